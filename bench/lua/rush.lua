-- release_rush: each row "token patient_id slot_id" books once (POST /api/v1/appointments/).
-- args: rows file, number of wrk threads.
package.path = "bench/lua/?.lua;" .. package.path
local common = require("common")
local rows, next_row, mine, started = {}, 1, 0, false

setup = common.setup

function init(args)
  common.reset()
  rows = common.read_rows(args[1], tid, tonumber(args[2]))
  mine = #rows
end

function request()
  if not started then started = true; first_at = common.now() end
  local row = rows[next_row]
  if row == nil then
    return wrk.format("GET", "/bench/noop/")
  end
  next_row = next_row + 1
  return wrk.format("POST", "/api/v1/appointments/",
    { ["X-Session-Token"] = row[1], ["Content-Type"] = "application/json" },
    string.format('{"patient": %s, "slot": %s}', row[2], row[3]))
end

function response(status, headers, body)
  if headers["X-Bench-Noop"] then
    if counted >= mine then wrk.thread:stop() end
    return
  end
  common.count(status, headers, body)
  if counted >= mine then wrk.thread:stop() end
end

done = common.done
