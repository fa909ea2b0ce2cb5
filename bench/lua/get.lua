-- A GET load over a list of paths (and tokens): bare_endpoint, browse, fhir_feed.
-- args: rows file ("path [token] [etag]" per line), number of wrk threads.
package.path = "bench/lua/?.lua;" .. package.path
local common = require("common")
local rows, i = {}, 0

setup = common.setup

function init(args)
  common.reset()
  rows = common.read_rows(args[1], tid, tonumber(args[2]))
end

function request()
  if first_at == 0 then first_at = common.now() end
  i = i % #rows + 1
  local row = rows[i]
  local headers = {}
  if row[2] and row[2] ~= "-" then headers["X-Session-Token"] = row[2] end
  if row[3] then headers["If-None-Match"] = '"' .. row[3] .. '"' end
  return wrk.format("GET", row[1], headers)
end

function response(status, headers, body)
  common.count(status, headers, nil)
end

done = common.done
