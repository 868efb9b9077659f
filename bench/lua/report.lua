-- Appended to every script: print the figures run.py parses, as one JSON line.
local M = {}

-- The line; `extra` is more JSON members to add (each starting with a comma), or nil.
function M.write(summary, latency, extra)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p99_us":%d,"max_us":%d%s}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, extra or ""))
end

done = function(summary, latency)
  M.write(summary, latency)
end

-- Paced runs: HAMR_BENCH_DELAY_MS holds each connection to one request per that many ms.
local pace = tonumber(os.getenv("HAMR_BENCH_DELAY_MS") or "")
if pace then
  delay = function()
    return pace
  end
end

return M
