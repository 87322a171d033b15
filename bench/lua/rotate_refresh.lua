-- Refresh token rotation: starts from the refresh tokens the redemption scenario kept
-- (DIR/refresh_<id>.txt) and uses each answer's new refresh token for a later request,
-- so every token is presented exactly once. Set by the caller: DIR, BASIC.
bad = 0
exhausted = 0
init = function(args)
  tokens = read_lines(DIR .. "/refresh_" .. id .. ".txt")
end
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. BASIC }
request = function()
  local token = table.remove(tokens, 1)
  if not token then
    exhausted = exhausted + 1
    token = "exhausted"
  end
  return wrk.format("POST", "/token", headers, "grant_type=refresh_token&refresh_token=" .. token)
end
response = function(status, headers, body)
  local refresh = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if refresh then
    tokens[#tokens + 1] = refresh
  else
    bad = bad + 1
  end
end
