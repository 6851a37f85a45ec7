-- POST /api/{user}/tasks for many users: the users take turns request by
-- request (each wrk thread starts at its own place in the list), so
-- concurrent creates seldom wait for the same user's counter row.
-- BENCH_USERS: "user:token user:token ..." (bench/live/run mints them).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local body = '{"title": "Benchmark new task 01", ' ..
   '"description": "Created by bench/run to measure the cost of one insert."}'
local requests = {}
local turn = 0

function init(args)
   for pair in string.gmatch(common.env("BENCH_USERS"), "%S+") do
      local user, token = string.match(pair, "^([^:]+):(.+)$")
      requests[#requests + 1] = common.request("POST", "/api/" .. user .. "/tasks", token, body)
   end
   assert(#requests > 0, "BENCH_USERS names no user")
   turn = ((thread_number or 1) - 1) * 7919 % #requests
end

function request()
   turn = turn % #requests + 1
   return requests[turn]
end
