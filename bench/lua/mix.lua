-- 90 % GET, 10 % POST (every tenth request) rotating over the sampled orgs, with each kind's
-- latency timed apart. wrk keeps one histogram for all requests and, with many connections on
-- one thread, answers come back in any order; hamr echoes the X-Request-Id a request carries,
-- which pairs each answer with its request and so with its kind and its start.
package.path = package.path .. ";" .. os.getenv("HAMR_BENCH_LUA") .. "/?.lua"
local keys = require("keys")
local report = require("report")
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } hamr_timespec;
int clock_gettime(int clock, hamr_timespec *now);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("hamr_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

-- done() runs in another Lua state than the requests, and wrk's thread:get copies numbers
-- and strings but not tables (4.1 crashes on one), so each kind's latencies are kept in a
-- histogram of numbered globals: 10 µs buckets below 10 ms, 100 µs below 100 ms, 1 ms above.
local function bucket(us)
  if us < 10000 then
    return math.floor(us / 10)
  elseif us < 100000 then
    return 1000 + math.floor((us - 10000) / 100)
  end
  return 1900 + math.min(math.floor((us - 100000) / 1000), 9900)
end
local BUCKETS = bucket(math.huge)

-- A bucket's upper bound in µs, the latency reported for the requests in it.
local function bound(b)
  if b < 1000 then
    return (b + 1) * 10
  elseif b < 1900 then
    return 10000 + (b - 999) * 100
  end
  return 100000 + (b - 1899) * 1000
end

local orgs = keys.load(os.getenv("HAMR_BENCH_SAMPLE"))
local i = math.random(#orgs)
local n = 0
local started = {}

request = function()
  i = i % #orgs + 1
  n = n + 1
  local kind = n % 10 == 0 and "post" or "get"
  local id = kind .. n
  started[id] = now_us()
  if kind == "post" then
    return keys.post(orgs[i], n, { ["X-Request-Id"] = id })
  end
  return keys.get(orgs[i], { ["X-Request-Id"] = id })
end

response = function(status, headers)
  local id = headers["x-request-id"] or headers["X-Request-Id"]
  local start = id and started[id]
  if not start then
    return
  end
  started[id] = nil
  local kind = id:sub(1, 1) == "p" and "post" or "get"
  local name = kind .. "_" .. bucket(now_us() - start)
  _G[name] = (_G[name] or 0) + 1
  if status >= 300 then
    _G[kind .. "_errors"] = (_G[kind .. "_errors"] or 0) + 1
  end
end

local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end

-- A kind's counts by bucket, summed over the threads, and their total.
local function histogram(kind)
  local counts, total = {}, 0
  for b = 0, BUCKETS do
    local count = 0
    for _, thread in ipairs(threads) do
      count = count + (thread:get(kind .. "_" .. b) or 0)
    end
    counts[b], total = count, total + count
  end
  return counts, total
end

local function percentile(counts, total, p)
  local seen, wanted = 0, math.max(1, math.ceil(total * p / 100))
  for b = 0, BUCKETS do
    seen = seen + counts[b]
    if seen >= wanted then
      return bound(b)
    end
  end
  return 0
end

-- The usual line, plus "parts": each kind's requests, errors and latency percentiles.
done = function(summary, latency)
  local parts = {}
  for _, kind in ipairs({ "get", "post" }) do
    local counts, total = histogram(kind)
    local errors = 0
    for _, thread in ipairs(threads) do
      errors = errors + (thread:get(kind .. "_errors") or 0)
    end
    parts[#parts + 1] = string.format(
      '"%s":{"requests":%d,"errors":%d,"p50_us":%d,"p99_us":%d}',
      kind, total, errors, percentile(counts, total, 50), percentile(counts, total, 99))
  end
  report.write(summary, latency, ',"parts":{' .. table.concat(parts, ",") .. "}")
end
