-- Mints authorization codes through the real GET /authorize (a logged-in user with a
-- remembered consent): each thread writes the codes of its 302s to DIR/codes_<id>.txt.
-- Set by the caller: DIR, AUTHORIZE (path and query), COOKIE.
bad = 0
init = function(args)
  out = io.open(DIR .. "/codes_" .. id .. ".txt", "w")
  out:setvbuf("full")
end
request = function()
  return wrk.format("GET", AUTHORIZE, { ["Cookie"] = COOKIE })
end
response = function(status, headers, body)
  local loc = headers["location"] or headers["Location"]
  local code = status == 302 and loc and loc:match("[?&]code=([^&]+)")
  if code then
    out:write(code, "\n")
    out:flush()
  else
    bad = bad + 1
  end
end
