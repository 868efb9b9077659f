-- GET /healthz, which needs no database: what a load balancer's probe sees (bench/outage.py).
package.path = package.path .. ";" .. os.getenv("HAMR_BENCH_LUA") .. "/?.lua"
require("report")

request = function()
  return wrk.format("GET", "/healthz")
end
