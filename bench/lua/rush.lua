-- release_rush: each row "token patient_id slot_id" books once (POST /api/v1/appointments/).
-- args: rows file, number of wrk threads, a folder where each thread leaves "done.<n>" when finished.
package.path = "bench/lua/?.lua;" .. package.path
local common = require("common")
local rows, next_row, mine, started, done_dir, finished, issued, verified = {}, 1, 0, false, nil, false, false, false

setup = common.setup

function init(args)
  common.reset()
  rows = common.read_rows(args[1], tid, tonumber(args[2]))
  mine = #rows
  done_dir = args[3]
end

local function finish()
  if not finished then
    finished = true
    local marker = io.open(done_dir .. "/done." .. tid, "w")
    if marker then marker:close() end
  end
  wrk.thread:stop()
end

-- Once a thread has sent its share, its connections wait instead of sending: a request only goes
-- out if the runner has not stopped this thread a second later (it is then a noop, not counted).
function delay()
  if rows[next_row] == nil then return 1000 end
  return 0
end

function request()
  if tid == 0 and not verified then
    -- wrk calls request() once in its first thread's state before any connection, only to check
    -- what it returns: that call must not use up an attempt (it would never be sent).
    verified = true
    return wrk.format("GET", "/bench/noop/")
  end
  if not started then started = true; first_at = common.now() end
  local row = rows[next_row]
  if row == nil then return wrk.format("GET", "/bench/noop/") end
  next_row = next_row + 1
  if rows[next_row] == nil and not issued then -- every attempt is sent: the runner waits a little longer for lost answers
    issued = true
    local marker = io.open(done_dir .. "/issued." .. tid, "w")
    if marker then marker:close() end
  end
  return wrk.format("POST", "/api/v1/appointments/",
    { ["X-Session-Token"] = row[1], ["Content-Type"] = "application/json" },
    string.format('{"patient": %s, "slot": %s}', row[2], row[3]))
end

function response(status, headers, body)
  if not common.header(headers, "X-Bench-Noop") then common.count(status, headers, body) end
  if counted >= mine then finish() end
end

done = common.done
