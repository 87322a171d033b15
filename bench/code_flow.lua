-- Authorization code flow under load: each thread alternates GET /authorize (a logged-in
-- user with remembered consent: 302 with a code) and POST /token redeeming a code.
-- Set by the caller: SESSION (cookie), CLIENT_ID, BASIC (base64 id:secret), REDIRECT,
-- CHALLENGE, VERIFIER.
local codes = {}
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local authorize = "/authorize?response_type=code&client_id=" .. CLIENT_ID .. "&redirect_uri=" .. urlencode(REDIRECT)
  .. "&scope=profile&state=s&code_challenge=" .. CHALLENGE .. "&code_challenge_method=S256"
request = function()
  local code = table.remove(codes)
  if code then
    local body = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. urlencode(REDIRECT) .. "&code_verifier=" .. VERIFIER
    return wrk.format("POST", "/token", { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. BASIC }, body)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = SESSION })
end
response = function(status, headers, body)
  if status == 302 then
    local loc = headers["location"] or headers["Location"]
    local code = loc and loc:match("[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  end
end
