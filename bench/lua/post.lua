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
  local org = orgs[i]
  local body = string.format(
    '{"data":{"id":"%s","type":"hamr_org_connections","attributes":{"hamr_status":%d,'
      .. '"is_primary":true,"modified_by":"bench","target_org_datacenter":"%s",'
      .. '"target_org_name":"partner","target_org_uuid":"%s"}}}',
    org.uuid, n % 6, org.dc, org.partner)
  return wrk.format("POST", "/api/v2/hamr", {
    ["DD-API-KEY"] = org.api,
    ["DD-APPLICATION-KEY"] = org.app,
    ["Content-Type"] = "application/json",
  }, body)
end
