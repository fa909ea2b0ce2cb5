-- Shared by the wrk scripts: a monotonic clock, per-thread counters and the JSON report.
-- Each wrk thread runs its own Lua state; done() (main state) reads the counters back.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]

local M = {}
local threads = {}

function M.now()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, t) -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

M.STATUSES = { 200, 201, 304, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503 }

function M.setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Per-thread counters, as globals so thread:get() can read them.
function M.reset()
  for _, s in ipairs(M.STATUSES) do _G["c" .. s] = 0 end
  c_other, slot_full, counted = 0, 0, 0
  sql_win, n_win, sql_lose, n_lose, sql_all, max_win, max_lose = 0, 0, 0, 0, 0, 0, 0
  first_at, last_at = 0, 0
end

-- A response header by name: gunicorn keeps the case it was given, granian (hyper) lowercases it.
function M.header(headers, name)
  return headers[name] or headers[name:lower()]
end

function M.count(status, headers, body)
  local key = "c" .. status
  if _G[key] ~= nil then _G[key] = _G[key] + 1 else c_other = c_other + 1 end
  local sql = tonumber(M.header(headers, "X-Bench-SQL") or "0") or 0
  sql_all = sql_all + sql
  if status == 201 then
    sql_win, n_win = sql_win + sql, n_win + 1
    if sql > max_win then max_win = sql end
  elseif status == 409 then
    sql_lose, n_lose = sql_lose + sql, n_lose + 1
    if sql > max_lose then max_lose = sql end
    if body and body:find("slot_full", 1, true) then slot_full = slot_full + 1 end
  end
  counted = counted + 1
  last_at = M.now()
end

function M.read_rows(path, tid, nthreads)
  local rows, i = {}, 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local fields = {}
      for field in line:gmatch("%S+") do table.insert(fields, field) end
      table.insert(rows, fields)
    end
    i = i + 1
  end
  return rows
end

function M.done(summary, latency)
  local total = { slot_full = 0, counted = 0, sql_win = 0, n_win = 0, sql_lose = 0, n_lose = 0,
                  sql_all = 0, max_win = 0, max_lose = 0, c_other = 0 }
  local statuses = {}
  local first, last = nil, 0
  for _, t in ipairs(threads) do
    for name, _ in pairs(total) do
      local v = t:get(name) or 0
      if name:sub(1, 4) == "max_" then
        if v > total[name] then total[name] = v end
      else
        total[name] = total[name] + v
      end
    end
    for _, s in ipairs(M.STATUSES) do
      statuses[tostring(s)] = (statuses[tostring(s)] or 0) + (t:get("c" .. s) or 0)
    end
    local f, l = t:get("first_at") or 0, t:get("last_at") or 0
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
  end
  local parts = {}
  for k, v in pairs(statuses) do
    if v > 0 then table.insert(parts, string.format('"%s": %d', k, v)) end
  end
  if total.c_other > 0 then table.insert(parts, string.format('"other": %d', total.c_other)) end
  local e = summary.errors
  io.write(string.format(
    '\nBENCH-JSON {"requests": %d, "duration_s": %.4f, "counted": %d, "active_s": %.4f, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "statuses": {%s}, "slot_full": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
    '"sql_win": %d, "n_win": %d, "max_win": %d, "sql_lose": %d, "n_lose": %d, "max_lose": %d, "sql_all": %d}\n',
    summary.requests, summary.duration / 1e6, total.counted, (first and last > first) and (last - first) or 0,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(parts, ", "), total.slot_full, e.connect, e.read, e.write, e.timeout, e.status,
    total.sql_win, total.n_win, total.max_win, total.sql_lose, total.n_lose, total.max_lose, total.sql_all))
end

return M
