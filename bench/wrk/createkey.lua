-- POST <url> (/api/bench-b/tasks) as create.lua does, each request with its own
-- `Idempotency-Key`: BENCH_KEY_PREFIX (new for every wrk run, so a warm-up's
-- keys are not replayed by the measured run), the thread's number and a
-- counter. Every request is a first use of its key: the server's 6-statement
-- transaction (BEGIN, the key's advisory lock, the lookup, the insert, the
-- stored response, COMMIT), never a replay.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local prefix, token, counter = nil, nil, 0
local body = '{"title": "Benchmark new task 01", ' ..
   '"description": "Created by bench/run to measure the cost of one insert."}'

function init(args)
   token = common.env("BENCH_TOKEN")
   prefix = common.env("BENCH_KEY_PREFIX") .. "-" .. (thread_number or 0) .. "-"
end

function request()
   counter = counter + 1
   return wrk.format("POST", wrk.path, {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = prefix .. counter,
   }, body)
end
