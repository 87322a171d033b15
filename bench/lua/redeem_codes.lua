-- Redeems the codes minted by mint_codes.lua (PKCE S256), one per request, and keeps the
-- refresh tokens it gets in DIR/refresh_<id>.txt for the refresh scenario.
-- Set by the caller: DIR, BASIC, REDIRECT, VERIFIER.
bad = 0
exhausted = 0
init = function(args)
  codes = read_lines(DIR .. "/codes_" .. id .. ".txt")
  out = io.open(DIR .. "/refresh_" .. id .. ".txt", "w")
end
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. BASIC }
request = function()
  local code = table.remove(codes)
  if not code then
    exhausted = exhausted + 1
    code = "exhausted"
  end
  local body = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. urlencode(REDIRECT)
    .. "&code_verifier=" .. VERIFIER
  return wrk.format("POST", "/token", headers, body)
end
response = function(status, headers, body)
  local refresh = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if refresh then
    out:write(refresh, "\n")
    out:flush()
  else
    bad = bad + 1
  end
end
