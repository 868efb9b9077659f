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

return M
