-- POST /api/v2/hamr, rotating over many orgs' keys; every request is a real, durable change.
package.path = package.path .. ";" .. os.getenv("HAMR_BENCH_LUA") .. "/?.lua"
local keys = require("keys")
require("report")
local orgs = keys.load(os.getenv("HAMR_BENCH_SAMPLE"))
local i = math.random(#orgs)
local n = 0

request = function()
  i = i % #orgs + 1
  n = n + 1
  return keys.post(orgs[i], n)
end
