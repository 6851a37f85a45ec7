#!/usr/bin/env python3
"""User-space instructions per request, counted by callgrind: a figure that
does not move with the machine's load, for judging a change to the server's
own cost.

    cargo build --release && python3 bench/instructions.py

For each backend (a throwaway PostgreSQL cluster, then a fresh SQLite file)
it starts the release server under `valgrind --tool=callgrind` with
instrumentation off, seeds a user with 50 tasks, and for each workload sends
WARMUP requests (not counted), then switches instrumentation on
(`callgrind_control -i on`), sends REQUESTS sequential requests over one
kept-alive connection, switches it off and dumps the counters. Instructions
per request = the dump's total ÷ REQUESTS: the server's user-space work only
(the kernel's and PostgreSQL's are not in it; SQLite's is, as it runs inside
the server). Repeatable to a fraction of a per cent for the same binary and
inputs. Figures go to stdout and to bench/results/instructions.md.

Settings (environment): REQUESTS (2000), WARMUP (200), BACKENDS ("postgres sqlite"),
WORKLOADS ("list50 get create toggle"), BENCH_BIN, PG_BIN.
"""

import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reminders import BIN, OPENER, REPO, SECRET, free_port, pg_cluster, token  # noqa: E402

REQUESTS = int(os.environ.get("REQUESTS", "2000"))
WARMUP = int(os.environ.get("WARMUP", "200"))
BACKENDS = os.environ.get("BACKENDS", "postgres sqlite").split()
WORKLOADS = os.environ.get("WORKLOADS", "list50 get create toggle").split()
REPORT = os.path.join(REPO, "bench/results/instructions.md")
USER = "bench-a"


def start_under_callgrind(work, env):
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port),
           "BETTER_AUTH_SECRET": SECRET, "RUST_LOG": "warn", "MAX_TASKS_PER_USER": "0",
           # Checked on every request, never reached.
           "RATE_LIMIT_PER_MINUTE": "1000000000", "RATE_LIMIT_BURST": "1000000000", **env}
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=yes",
         f"--callgrind-out-file={work}/callgrind.out.%p", BIN],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            with OPENER.open(url + "/health", timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                sys.exit(f"instructions.py: the server exited; see {log.name}")
            time.sleep(0.1)
    sys.exit("instructions.py: the server did not answer /health in 120 s")


def control(pid, *args):
    # valgrind names its control pipes after $USER and $HOST, and the server
    # runs with HOST=127.0.0.1 (its listen address): so must this.
    subprocess.run(["callgrind_control", *args, str(pid)], check=True,
                   env={**os.environ, "HOST": "127.0.0.1"},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dump(work, pid, name):
    """Dumps the counters as `name`; the Ir total of that dump."""
    before = set(glob.glob(f"{work}/callgrind.out.{pid}*"))
    control(pid, f"--dump={name}")
    for _ in range(600):
        new = set(glob.glob(f"{work}/callgrind.out.{pid}*")) - before
        if new:
            path = new.pop()
            time.sleep(0.2)  # the file is written whole before callgrind_control returns; be safe
            with open(path) as f:
                for line in f:
                    # `totals:` (the dump's `summary:` line reads 0 after --zero).
                    if line.startswith("totals:"):
                        return int(line.split()[1])
        time.sleep(0.1)
    sys.exit(f"instructions.py: no callgrind dump for {name} in {work}")


class Client:
    def __init__(self, url):
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)
        self.auth = f"Bearer {token(USER)}"

    def send(self, method, path, body=None):
        headers = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def run(backend, work):
    stop = None
    if backend == "sqlite":
        env = {"SQLITE_PATH": os.path.join(work, "bench.db")}
    else:
        url, stop = pg_cluster(work)
        env = {"NEON_DB_URL": url}
    server, url = start_under_callgrind(work, env)
    try:
        client = Client(url)
        tasks = f"/api/{USER}/tasks"
        ids = []
        for n in range(50):
            status, body = client.send("POST", tasks, {"title": f"task {n}", "priority": "high",
                                                        "tags": ["home"], "due": {"date": "2026-12-24"}})
            assert status == 201, body
            ids.append(json.loads(body)["id"])
        calls = {
            "list50": ("GET", f"{tasks}?limit=50", None, 200),
            "get": ("GET", f"{tasks}/{ids[0]}", None, 200),
            "create": ("POST", tasks, {"title": "bench"}, 201),
            "toggle": ("PATCH", f"{tasks}/{ids[1]}/complete", None, 200),
        }
        rows = []
        for workload in WORKLOADS:
            method, path, body, expect = calls[workload]

            def call():
                status, payload = client.send(method, path, body)
                if status != expect:
                    sys.exit(f"instructions.py: {method} {path}: {status} {payload[:200]!r}")

            for _ in range(WARMUP):
                call()
            control(server.pid, "--zero")
            control(server.pid, "-i", "on")
            for _ in range(REQUESTS):
                call()
            control(server.pid, "-i", "off")
            rows.append((workload, dump(work, server.pid, workload) / REQUESTS))
        return rows
    finally:
        server.terminate()
        server.wait(timeout=120)
        if stop:
            stop()


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"instructions.py: {BIN} not found: cargo build --release (or set BENCH_BIN)")
    if not shutil.which("valgrind"):
        sys.exit("instructions.py: valgrind not found: apt-get install valgrind")
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    lines = [
        "# User-space instructions per request (callgrind)",
        "",
        f"`python3 bench/instructions.py`, commit {commit}: release build under "
        f"`valgrind --tool=callgrind`, instrumentation on only for {REQUESTS} sequential requests "
        f"of each workload (after {WARMUP} uncounted), one kept-alive connection; the server's "
        "user-space instructions ÷ requests (PostgreSQL's own work is not in it; SQLite's is).",
        "",
        "| backend | " + " | ".join(WORKLOADS) + " |",
        "|---|" + "---:|" * len(WORKLOADS),
    ]
    for backend in BACKENDS:
        work = tempfile.mkdtemp(prefix="todo-instr-")
        os.chmod(work, 0o755)
        try:
            rows = run(backend, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        lines.append(f"| {backend} | " + " | ".join(f"{count / 1000:,.0f}k" for _, count in rows) + " |")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(REPORT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
