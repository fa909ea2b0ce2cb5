-- mixed_day: patients browse a doctor's week, book, then pay (sandbox), cancel or reschedule.
-- rows: "token patient_id slot alt_slot browse_path"; args: rows file, number of wrk threads.
-- wrk does not tie a response to its request, so follow-ups are queued from the response body.
package.path = "bench/lua/?.lua;" .. package.path
local common = require("common")
local rows, by_patient, queue, i, browse_next, booked = {}, {}, {}, 0, true, 0

setup = common.setup

function init(args)
  common.reset()
  rows = common.read_rows(args[1], tid, tonumber(args[2]))
  for _, row in ipairs(rows) do by_patient[row[2]] = row end
end

local function post(path, token, body)
  return wrk.format("POST", path, { ["X-Session-Token"] = token, ["Content-Type"] = "application/json" }, body)
end

function request()
  if first_at == 0 then first_at = common.now() end
  local follow = table.remove(queue, 1)
  if follow then
    local base = "/api/v1/appointments/" .. follow.order_no .. "/"
    if follow.kind == "pay" then return post(base .. "pay/", follow.row[1], '{"provider": "sandbox"}') end
    if follow.kind == "cancel" then return post(base .. "cancel/", follow.row[1], '{"reason": ""}') end
    return post(base .. "reschedule/", follow.row[1], string.format('{"slot": %s}', follow.row[4]))
  end
  if browse_next then
    browse_next = false
    return wrk.format("GET", rows[i % #rows + 1][5])
  end
  browse_next = true
  i = i % #rows + 1
  local row = rows[i]
  return post("/api/v1/appointments/", row[1], string.format('{"patient": %s, "slot": %s}', row[2], row[3]))
end

function response(status, headers, body)
  common.count(status, headers, body)
  if status == 201 and not body:find('"rescheduled_from"', 1, true) then
    local order_no = body:match('"order_no":"(%w+)"')
    local row = by_patient[body:match('"patient":{"id":(%d+)')]
    if order_no and row then
      booked = booked + 1
      local kinds = { "pay", "pay", "cancel", "reschedule" }
      table.insert(queue, { kind = kinds[booked % 4 + 1], order_no = order_no, row = row })
    end
  end
end

done = common.done
