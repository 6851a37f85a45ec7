-- PUT /api/BENCH_USER/tasks/{id} with a new title ({"title": "Renamed by
-- bench/run 000123"}), on the tasks in BENCH_TASKS ("12:7,13:9", id:version,
-- read from the API just before this run). With BENCH_IF_MATCH=1 each request
-- carries `If-Match: "<version>"` of the task as the previous response left it
-- (its ETag), so every condition holds: a 412 would show as an error.
--
-- wrk does not say which connection a request or response belongs to, so a
-- task, not a connection, carries the state: each thread owns every
-- BENCH_THREADS-th task, keeps its idle ones in a queue, sends the next idle
-- one, and response() puts the task back (its id from the body, its new version
-- from the ETag). No task is ever in flight twice, so no two requests wait for
-- the same task row (unlike toggle's random ids); every one of them still waits
-- for the owner's change number (user_changes). A thread needs at least as many
-- tasks as connections: bench/run checks BENCH_CONNECTIONS against them.
-- put and putifmatch run this same script and differ only in the header.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local path_prefix, token, if_match
local idle, first, last = {}, 1, 0   -- the queue of idle tasks: {id, version}
local counter = 0

local function push(id, version)
   last = last + 1
   idle[last] = { id, version }
end

function init(args)
   local user = common.env("BENCH_USER")
   token = common.env("BENCH_TOKEN")
   if_match = os.getenv("BENCH_IF_MATCH") == "1"
   path_prefix = "/api/" .. user .. "/tasks/"
   local threads = tonumber(common.env("BENCH_THREADS"))
   local connections = tonumber(common.env("BENCH_CONNECTIONS"))
   local index = 0
   for id, version in string.gmatch(common.env("BENCH_TASKS"), "(%d+):(%d+)") do
      if index % threads == (thread_number or 1) - 1 then
         push(id, version)
      end
      index = index + 1
   end
   -- wrk spreads connections over threads evenly: ceil(connections / threads) at most.
   local mine = math.ceil(connections / threads)
   assert(last >= mine, string.format(
      "put.lua: thread %d has %d tasks for %d connections", thread_number or 1, last, mine))
   counter = (thread_number or 1) * 100000
end

function request()
   assert(first <= last, "put.lua: no idle task (a response without a task id?)")
   local task = idle[first]
   idle[first] = nil
   first = first + 1
   counter = counter + 1
   local headers = {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }
   if if_match then
      headers["If-Match"] = '"' .. task[2] .. '"'
   end
   local body = string.format('{"title": "Renamed by bench/run %06d"}', counter % 1000000)
   return wrk.format("PUT", path_prefix .. task[1], headers, body)
end

function response(status, headers, body)
   local id = string.match(body, '"id":%s*(%d+)')
   local etag = headers["etag"] or headers["ETag"] or headers["Etag"]
   local version = etag and string.match(etag, '^"(%d+)"$')
   if not if_match then
      version = version or "0"   -- (a server before 1.2 sends no ETag)
   end
   if status == 200 and id and version then
      push(id, version)
   end
   -- Anything else (counted as an error when its status is 400 or more)
   -- loses its task; request() stops wrk once none is left.
end
