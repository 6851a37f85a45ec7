-- POST <url> (/api/bench-b/tasks): creates a task per request with BENCH_TOKEN.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. common.env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "Benchmark new task 01", ' ..
   '"description": "Created by bench/run to measure the cost of one insert."}'
