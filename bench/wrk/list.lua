-- GET <url>: the listing named by the URL (bench/run passes
-- /api/bench-a/tasks or /api/bench-big/tasks) with BENCH_TOKEN.
-- No request() function: wrk sends one prebuilt request, the cheapest path.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. common.env("BENCH_TOKEN")
