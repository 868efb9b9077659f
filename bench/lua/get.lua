-- GET /api/v2/hamr, rotating over many orgs' keys (so the auth cache and the read both work).
package.path = package.path .. ";" .. os.getenv("HAMR_BENCH_LUA") .. "/?.lua"
local keys = require("keys")
require("report")
local orgs = keys.load(os.getenv("HAMR_BENCH_SAMPLE"))
keys.signal_after_passes(orgs)
local i = math.random(#orgs)

request = function()
  i = i % #orgs + 1
  return keys.get(orgs[i])
end
