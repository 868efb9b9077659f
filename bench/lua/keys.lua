-- Shared by the load scripts: the org sample written by bench/seed.py, one org per line:
-- uuid api_key app_key partner_uuid partner_dc
local M = {}

function M.load(path)
  local orgs = {}
  for line in io.lines(path) do
    local uuid, api, app, partner, dc = line:match("(%S+) (%S+) (%S+) (%S+) (%S+)")
    if uuid then
      orgs[#orgs + 1] = { uuid = uuid, api = api, app = app, partner = partner, dc = dc }
    end
  end
  return orgs
end

-- The org's GET, with `extra` headers (or none).
function M.get(org, extra)
  local headers = { ["DD-API-KEY"] = org.api, ["DD-APPLICATION-KEY"] = org.app }
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return wrk.format("GET", "/api/v2/hamr", headers)
end

-- The org's n-th POST: a real, durable change (hamr_status cycles through its six values).
function M.post(org, n, extra)
  local body = string.format(
    '{"data":{"id":"%s","type":"hamr_org_connections","attributes":{"hamr_status":%d,'
      .. '"is_primary":true,"modified_by":"bench","target_org_datacenter":"%s",'
      .. '"target_org_name":"partner","target_org_uuid":"%s"}}}',
    org.uuid, n % 6, org.dc, org.partner)
  local headers = {
    ["DD-API-KEY"] = org.api,
    ["DD-APPLICATION-KEY"] = org.app,
    ["Content-Type"] = "application/json",
  }
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return wrk.format("POST", "/api/v2/hamr", headers, body)
end

-- Warm-up runs: HAMR_BENCH_PASSES is how many passes over the sample to make; once they have
-- been answered this creates the file HAMR_BENCH_DONE names, and run.py ends wrk (its -d is
-- then only an upper bound).
function M.signal_after_passes(orgs)
  local passes = tonumber(os.getenv("HAMR_BENCH_PASSES") or "")
  if not passes then
    return
  end
  local answered, wanted = 0, passes * #orgs
  response = function()
    answered = answered + 1
    if answered == wanted then
      io.open(os.getenv("HAMR_BENCH_DONE"), "w"):close()
      wrk.thread:stop()
    end
  end
end

return M
