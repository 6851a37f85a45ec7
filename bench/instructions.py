#!/usr/bin/env python3
"""User-space instructions per request, counted by callgrind: a figure that
does not move with the machine's load, for judging a change to the server's
own cost, alone and as a ratio to a floor.

    cargo build --release && cargo build --release --example floor && python3 bench/instructions.py

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

The floor (issue 19): on PostgreSQL it also starts bench/floor/main.rs (a
minimal hyper + tokio-postgres server for list50 and get, FLOOR_BIN) under
callgrind the same way, on the same database. Before counting anything it
checks that both do the same work, and exits non-zero with a diff if not:
the same response bodies, byte for byte, and ETags, for list50 and get on the
seeded rows and on a second user's tasks that use every field (timed dues,
recurrence, reminders, escapes; one completed, one trashed); and the same
statements with the same parameters, as PostgreSQL logs them
(`log_statement=all`, on for the check only). list50 and get are each
counted on the floor right after todo-api, on the same rows, and the report
adds a table of both and todo-api ÷ floor.

Settings (environment): REQUESTS (2000), WARMUP (200), BACKENDS ("postgres sqlite"),
WORKLOADS ("list50 get create toggle"), BENCH_BIN, FLOOR_BIN
(target/release/examples/floor), PG_BIN.
"""

import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Client  # noqa: E402
from reminders import BIN, OPENER, REPO, SECRET, free_port, pg_cluster  # noqa: E402

REQUESTS = int(os.environ.get("REQUESTS", "2000"))
WARMUP = int(os.environ.get("WARMUP", "200"))
BACKENDS = os.environ.get("BACKENDS", "postgres sqlite").split()
WORKLOADS = os.environ.get("WORKLOADS", "list50 get create toggle").split()
FLOOR_BIN = os.environ.get("FLOOR_BIN", os.path.join(REPO, "target/release/examples/floor"))
# The workloads the floor serves.
FLOOR_WORKLOADS = ("list50", "get")
REPORT = os.path.join(REPO, "bench/results/instructions.md")
USER = "bench-a"
# The user whose tasks use every field: only the floor's check reads them.
CHECK_USER = "floor-check"


def start_under_callgrind(work, env, binary=BIN, name="server"):
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port),
           "BETTER_AUTH_SECRET": SECRET, "RUST_LOG": "warn", "MAX_TASKS_PER_USER": "0",
           # Checked on every request, never reached.
           "RATE_LIMIT_PER_MINUTE": "1000000000", "RATE_LIMIT_BURST": "1000000000", **env}
    log = open(os.path.join(work, f"{name}.log"), "w")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=yes",
         f"--callgrind-out-file={work}/callgrind.out.%p", binary],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            with OPENER.open(url + "/health", timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                sys.exit(f"instructions.py: {name} exited; see {log.name}")
            time.sleep(0.1)
    sys.exit(f"instructions.py: {name} did not answer /health in 120 s")


def stop_server(server):
    server.terminate()
    server.wait(timeout=120)


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


def measure(server, work, name, call):
    """Instructions per `call()` in `server`: WARMUP calls, then REQUESTS counted."""
    for _ in range(WARMUP):
        call()
    control(server.pid, "--zero")
    control(server.pid, "-i", "on")
    for _ in range(REQUESTS):
        call()
    control(server.pid, "-i", "off")
    return dump(work, server.pid, name) / REQUESTS


def psql(url, sql):
    pg_bin = os.environ.get("PG_BIN") or (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [""])[-1]
    command = os.path.join(pg_bin, "psql") if pg_bin else shutil.which("psql")
    subprocess.run([command, "-X", "-q", "-d", url, "-c", sql], check=True, stdout=subprocess.DEVNULL)


def statement_log(url, on):
    """`log_statement=all` on or off for every session of the cluster."""
    psql(url, "ALTER SYSTEM SET log_statement = 'all'" if on else "ALTER SYSTEM RESET log_statement")
    psql(url, "SELECT pg_reload_conf()")
    time.sleep(1)  # each session reads the new setting before its next statement


def executed(log, call):
    """The statements, as (SQL, parameters), that PostgreSQL logged while `call()` ran."""
    with open(log) as f:
        start = f.seek(0, os.SEEK_END)
    call()
    time.sleep(0.2)
    with open(log) as f:
        f.seek(start)
        lines = f.read().splitlines()
    statements = []
    for line in lines:
        if match := re.search(r"LOG:  execute [^:]*: (.*)$", line):
            statements.append((match[1], ""))
        elif statements and (match := re.search(r"DETAIL:  parameters: (.*)$", line)):
            statements[-1] = (statements[-1][0], match[1])
    return statements


def body_diff(path, theirs, ours):
    """A unified diff of two JSON bodies, one member a line."""
    def lines(body):
        return body.decode(errors="replace").replace(',"', ',\n"').splitlines()
    return "\n".join(difflib.unified_diff(lines(theirs), lines(ours), f"todo-api {path}",
                                          f"floor {path}", lineterm=""))


def seed_check_user(client):
    """CHECK_USER's tasks (every field in use, one completed, one trashed); their ids."""
    tasks = f"/api/{CHECK_USER}/tasks"
    bodies = [
        {"title": "plain"},
        {"title": 'Ünïcødé "quoted" \\ and\ttab', "description": "two\nlines \u2028 \u0007 é",
         "priority": "low", "tags": ["Work", "été", "home"]},
        {"title": "timed", "priority": "medium",
         "due": {"datetime": "2027-03-28T02:30", "time_zone": "Europe/Berlin"},
         "reminders": [{"before": "PT90M"}, {"before": "P1W"}, {"at": "2027-03-01T08:00:00+01:00"}]},
        {"title": "weekly", "due": {"date": "2027-12-07"},
         "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=TU"}},
        {"title": "monthly, from completion", "priority": "high",
         "due": {"datetime": "2027-01-31T23:59:59", "time_zone": "America/New_York"},
         "recurrence": {"rrule": "FREQ=MONTHLY;COUNT=3", "repeat_from": "completion"},
         "reminders": [{"before": "PT0S"}]},
        {"title": "completed", "description": ""},
        {"title": "trashed"},
    ]
    ids = []
    for body in bodies:
        status, payload = client.send("POST", tasks, body)
        if status != 201:
            sys.exit(f"instructions.py: POST {tasks} {body}: {status} {payload[:300]!r}")
        ids.append(json.loads(payload)["id"])
    for method, path, expect in [("PATCH", f"{tasks}/{ids[-2]}/complete", 200),
                                 ("DELETE", f"{tasks}/{ids[-1]}", 204)]:
        status, payload = client.send(method, path)
        if status != expect:
            sys.exit(f"instructions.py: {method} {path}: {status} {payload[:300]!r}")
    return ids


def check_floor(pg_url, pg_log, server_url, floor_url, reads):
    """Exits with the differences unless the floor answers every (user, path) of
    `reads` as todo-api does (the status; for a 200 the body, Content-Type and
    ETag) and, for the first two (list50 and get), makes PostgreSQL execute the
    same statements with the same parameters. Those statements, per path."""
    clients = {}
    for user, _ in reads:
        if user not in clients:
            clients[user] = (Client(server_url, user, timeout=120), Client(floor_url, user, timeout=120))
    failures = []
    for user, path in reads:
        server, floor = clients[user]
        (status, headers, body), (floor_status, floor_headers, floor_body) = (
            server.exchange("GET", path), floor.exchange("GET", path))
        if status != floor_status:
            failures.append(f"GET {path}: status {status} from todo-api, {floor_status} from the floor")
            continue
        if status != 200:
            continue  # the floor's errors are bare statuses
        if body != floor_body:
            failures.append(f"GET {path}: the bodies differ\n{body_diff(path, body, floor_body)}")
        for name in ["content-type", "etag"]:
            if headers.get(name) != floor_headers.get(name):
                failures.append(f"GET {path}: {name} {headers.get(name)!r} from todo-api, "
                                f"{floor_headers.get(name)!r} from the floor")
    # todo-api also runs statements of its own in the background (reminders,
    # maintenance): one that falls into a request's window is a mismatch, so
    # a mismatch is tried again.
    statements = {}
    statement_log(pg_url, True)
    try:
        for user, path in reads[:2]:
            server, floor = clients[user]
            for _ in range(3):
                theirs = executed(pg_log, lambda: server.send("GET", path))
                ours = executed(pg_log, lambda: floor.send("GET", path))
                if theirs == ours and theirs:
                    break
            else:
                failures.append(f"GET {path}: other statements\n  todo-api: {theirs}\n  floor:    {ours}")
            statements[path] = theirs
    finally:
        statement_log(pg_url, False)
    if failures:
        sys.exit("instructions.py: the floor does not do what todo-api does:\n" + "\n".join(failures))
    return statements


def run(backend, work):
    """[(workload, todo-api's count, the floor's count or None)], and the
    statements of list50 and get on PostgreSQL."""
    stop, pg_url = None, None
    if backend == "sqlite":
        env = {"SQLITE_PATH": os.path.join(work, "bench.db")}
    else:
        pg_url, stop = pg_cluster(work)
        env = {"NEON_DB_URL": pg_url}
    server, url = start_under_callgrind(work, env)
    floor = None
    try:
        client = Client(url, USER, timeout=120)
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
        statements = {}
        if backend == "postgres" and any(w in FLOOR_WORKLOADS for w in WORKLOADS):
            floor, floor_url = start_under_callgrind(work, {"DATABASE_URL": pg_url}, FLOOR_BIN, "floor")
            check_ids = seed_check_user(Client(url, CHECK_USER, timeout=120))
            check_tasks = f"/api/{CHECK_USER}/tasks"
            reads = [(USER, calls["list50"][1]), (USER, calls["get"][1]),
                     (CHECK_USER, f"{check_tasks}?limit=50"), (CHECK_USER, check_tasks),
                     (CHECK_USER, f"{check_tasks}?limit=3")]
            reads += [(CHECK_USER, f"{check_tasks}/{id}") for id in check_ids]
            statements = check_floor(pg_url, os.path.join(work, "pg", "server.log"), url, floor_url, reads)
        rows = []
        for workload in WORKLOADS:
            method, path, body, expect = calls[workload]

            def call(client, name):
                status, payload = client.send(method, path, body)
                if status != expect:
                    sys.exit(f"instructions.py: {name}: {method} {path}: {status} {payload[:200]!r}")

            # A new connection for each workload: todo-api closes one left idle
            # for longer than its header timeout (10 s), as the check or the
            # floor's turn may leave it.
            client = Client(url, USER, timeout=120)
            count = measure(server, work, workload, lambda: call(client, "todo-api"))
            floor_count = None
            # Right after todo-api, before create and toggle change the rows.
            if floor and workload in FLOOR_WORKLOADS:
                floor_client = Client(floor_url, USER, timeout=120)
                floor_count = measure(floor, work, workload, lambda: call(floor_client, "floor"))
            rows.append((workload, count, floor_count))
        return rows, statements
    finally:
        if floor:
            stop_server(floor)
        stop_server(server)
        if stop:
            stop()


def kilo(count):
    return f"{count / 1000:,.0f}k"


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"instructions.py: {BIN} not found: cargo build --release (or set BENCH_BIN)")
    if "postgres" in BACKENDS and not os.access(FLOOR_BIN, os.X_OK):
        sys.exit(f"instructions.py: {FLOOR_BIN} not found: cargo build --release --example floor "
                 "(or set FLOOR_BIN)")
    if not shutil.which("valgrind"):
        sys.exit("instructions.py: valgrind not found: apt-get install valgrind")
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--", "src", "Cargo.toml",
                            "Cargo.lock", "bench/floor"]).returncode != 0
    if dirty:
        commit += " with uncommitted changes"
    lines = [
        "# User-space instructions per request (callgrind)",
        "",
        f"`python3 bench/instructions.py`, commit {commit}: release build under "
        f"`valgrind --tool=callgrind`, instrumentation on only for {REQUESTS} sequential requests "
        f"of each workload (after {WARMUP} uncounted), one kept-alive connection; the server's "
        "user-space instructions ÷ requests (PostgreSQL's own work is not in it; SQLite's is). "
        "The data: 50 tasks with a priority, a tag and an all-day due date.",
        "",
        "| backend | " + " | ".join(WORKLOADS) + " |",
        "|---|" + "---:|" * len(WORKLOADS),
    ]
    floor_rows, statements = [], {}
    for backend in BACKENDS:
        work = tempfile.mkdtemp(prefix="todo-instr-")
        os.chmod(work, 0o755)
        try:
            rows, found = run(backend, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        lines.append(f"| {backend} | " + " | ".join(kilo(count) for _, count, _ in rows) + " |")
        floor_rows += [(workload, count, floor) for workload, count, floor in rows if floor]
        statements.update(found)
    lines.append("")
    if floor_rows:
        lines += [
            "## Against the floor (PostgreSQL)",
            "",
            "The floor (`bench/floor/main.rs`, `cargo build --release --example floor`): hyper and "
            "tokio-postgres, two shared connections with the two statements prepared on each, the "
            "same JWT check, JSON, allocator, runtime and lock file as todo-api. Counted the same "
            "way, right after todo-api, on the same rows; checked first to answer with the same "
            "bodies (byte for byte) and ETags, also on tasks that use every field, and to make "
            "PostgreSQL execute the same statements with the same parameters.",
            "",
            "| workload | floor | todo-api | todo-api ÷ floor |",
            "|---|---:|---:|---:|",
        ]
        for workload, count, floor in floor_rows:
            lines.append(f"| {workload} | {kilo(floor)} | {kilo(count)} | {count / floor:.2f} |")
        lines += ["", "The statements (as PostgreSQL logged them, the same for both):", ""]
        for path, executed_statements in statements.items():
            for sql, parameters in executed_statements:
                lines.append(f"- `GET {path}`: `{sql}` ({parameters})")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(REPORT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
