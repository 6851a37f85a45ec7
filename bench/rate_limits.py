#!/usr/bin/env python3
"""The rate limiter's memory with many distinct callers.

    cargo build --release && python3 bench/rate_limits.py

Starts one release server on a fresh SQLite file with the default limits
(RATE_LIMIT_PER_MINUTE=600), then sends one request each for SUBJECTS distinct
token subjects (HS256 tokens signed with the server's secret; THREADS
kept-alive connections), and reads the server's resident memory (VmRSS) and
the limiter's `rate_limit_tracked_callers` from /metrics: before, right after,
and once the minute's cleanup has forgotten the callers whose allowance is
whole again. Figures go to stdout and to bench/results/1.5-rate-limits.md.

Settings (environment): SUBJECTS (100000), THREADS (4), BENCH_BIN.
"""

import concurrent.futures
import http.client
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reminders import BIN, OPENER, REPO, start_server, token  # noqa: E402

SUBJECTS = int(os.environ.get("SUBJECTS", "100000"))
THREADS = int(os.environ.get("THREADS", "4"))
REPORT = os.path.join(REPO, "bench/results/1.5-rate-limits.md")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def tracked(url):
    with OPENER.open(url + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("rate_limit_tracked_callers "):
                return int(float(line.split()[1]))
    return -1


def send(url, users):
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    statuses = {}
    for user in users:
        connection.request("GET", f"/api/{user}/tasks?limit=1",
                           headers={"Authorization": f"Bearer {token(user)}"})
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
    return statuses


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"rate_limits.py: {BIN} not found: cargo build --release (or set BENCH_BIN)")
    work = tempfile.mkdtemp(prefix="todo-rate-bench-")
    server, url = start_server(work, {"SQLITE_PATH": os.path.join(work, "t.db")})
    try:
        time.sleep(1)
        rows = [("started", rss_mib(server.pid), tracked(url))]
        users = [f"caller-{n}" for n in range(SUBJECTS)]
        started = time.monotonic()
        statuses = {}
        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            for part in pool.map(lambda i: send(url, users[i::THREADS]), range(THREADS)):
                for status, count in part.items():
                    statuses[status] = statuses.get(status, 0) + count
        seconds = time.monotonic() - started
        if statuses != {200: SUBJECTS}:
            sys.exit(f"rate_limits.py: expected {SUBJECTS} × 200, got {statuses}")
        rows.append((f"after {SUBJECTS} distinct subjects ({seconds:.0f} s)",
                     rss_mib(server.pid), tracked(url)))
        # The cleanup runs every 60 s; each caller's allowance is whole 0.1 s after its request.
        time.sleep(65)
        rows.append(("65 s later (after the minute's cleanup)", rss_mib(server.pid), tracked(url)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# Rate limiter memory with many distinct callers",
        "",
        f"`python3 bench/rate_limits.py`: one release server on SQLite, default limits, one request "
        f"each for {SUBJECTS} distinct token subjects over {THREADS} connections, {os.cpu_count()} cores.",
        "",
        "| moment | server RSS MiB | callers tracked |",
        "|---|---:|---:|",
    ] + [f"| {moment} | {rss:.1f} | {count} |" for moment, rss, count in rows] + [""]
    text = "\n".join(lines)
    print(text)
    with open(REPORT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
