-- A mixed load, chosen at random per request:
--   40 % list BENCH_USER_A's tasks      30 % get one of BENCH_IDS
--   20 % create a task for BENCH_USER_B 10 % toggle one of BENCH_IDS
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local list_request, create_request
local get_requests, toggle_requests = {}, {}

function init(args)
   local user_a, token_a = common.env("BENCH_USER_A"), common.env("BENCH_TOKEN_A")
   local user_b, token_b = common.env("BENCH_USER_B"), common.env("BENCH_TOKEN_B")
   list_request = common.request("GET", "/api/" .. user_a .. "/tasks?limit=50", token_a)
   create_request = common.request("POST", "/api/" .. user_b .. "/tasks", token_b,
      '{"title": "Benchmark mixed task", ' ..
      '"description": "Created by the mixed workload of bench/run, one of many."}')
   for i, id in ipairs(common.ids()) do
      local path = "/api/" .. user_a .. "/tasks/" .. id
      get_requests[i] = common.request("GET", path, token_a)
      toggle_requests[i] = common.request("PATCH", path .. "/complete", token_a)
   end
   -- A fixed seed per thread: the same sequence of choices on every run.
   math.randomseed(1000 + (thread_number or 0))
end

function request()
   local roll = math.random(100)
   if roll <= 40 then
      return list_request
   elseif roll <= 70 then
      return get_requests[math.random(#get_requests)]
   elseif roll <= 90 then
      return create_request
   else
      return toggle_requests[math.random(#toggle_requests)]
   end
end
