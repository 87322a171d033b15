-- One fixed request, repeated. Set by the caller: METHOD, PATH, BODY, HEADERS, EXPECT
-- (the status every answer must have; any other counts as an error).
wrk.method = METHOD
wrk.path = PATH
wrk.body = BODY
for k, v in pairs(HEADERS) do wrk.headers[k] = v end

bad = 0
response = function(status, headers, body)
  if status ~= EXPECT then bad = bad + 1 end
end
