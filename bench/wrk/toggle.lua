-- PATCH /api/BENCH_USER/tasks/{id}/complete without a body (toggles
-- `completed`), cycling over the ids in BENCH_IDS.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local requests = {}
local next_index = 0

function init(args)
   local user, token = common.env("BENCH_USER"), common.env("BENCH_TOKEN")
   for i, id in ipairs(common.ids()) do
      requests[i] = common.request("PATCH", "/api/" .. user .. "/tasks/" .. id .. "/complete", token)
   end
   next_index = (thread_number or 0) * 17
end

function request()
   next_index = next_index % #requests + 1
   return requests[next_index]
end
