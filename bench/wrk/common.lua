-- Shared by every workload script (loaded with dofile): request building from
-- environment variables, and the one summary line bench/run parses.

common = {}

-- A required environment variable.
function common.env(name)
   local value = os.getenv(name)
   if value == nil or value == "" then
      error("environment variable " .. name .. " is not set")
   end
   return value
end

-- A complete HTTP request; `body`, when given, is sent as JSON.
function common.request(method, path, token, body)
   local headers = {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = "Bearer " .. token,
   }
   if body then
      headers["Content-Type"] = "application/json"
   end
   return wrk.format(method, path, headers, body)
end

-- The task ids in BENCH_IDS ("12,13,14").
function common.ids()
   local ids = {}
   for id in string.gmatch(common.env("BENCH_IDS"), "%d+") do
      ids[#ids + 1] = id
   end
   assert(#ids > 0, "BENCH_IDS holds no id")
   return ids
end

-- Each thread gets a number (1, 2, ...) as the global `thread_number`, so
-- threads start cycling at different ids and seed their randomness apart.
local threads_started = 0
function setup(thread)
   threads_started = threads_started + 1
   thread:set("thread_number", threads_started)
end

-- Errors: socket errors (connect, read, write, timeout) and responses with a
-- status of 400 or more (wrk's "Non-2xx or 3xx" count).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "connect=%d read=%d write=%d timeout=%d status=%d bytes=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.timeout, e.status, summary.bytes))
end
