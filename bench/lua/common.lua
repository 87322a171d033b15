-- Shared by the benchmark's wrk scripts (bench/run.py prepends the scenario's settings).
-- Each wrk thread gets an id (0, 1, …) so it can read and write its own files.
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

-- One JSON line for bench/run.py: counts, latency percentiles (microseconds) and the
-- answers the scenario's script found wrong ("bad") or could not make ("exhausted").
function done(summary, latency, requests)
  local bad, exhausted = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("bad") or 0)
    exhausted = exhausted + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"status_errors":%d,"bad":%d,"exhausted":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, bad, exhausted))
end

function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Lines of a file, as a stack (the last line is used first).
function read_lines(path)
  local lines = {}
  local f = io.open(path, "r")
  if f then
    for line in f:lines() do
      if #line > 0 then lines[#lines + 1] = line end
    end
    f:close()
  end
  return lines
end
