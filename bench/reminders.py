#!/usr/bin/env python3
"""Reminders (contract 1.4): how late they fire, and what an idle poller costs.

    cargo build --release && python3 bench/reminders.py

For each backend (a fresh SQLite file, then a throwaway PostgreSQL cluster
with default durability) it starts one release server, creates REMINDERS
tasks for USERS users whose reminders (`{"at": …}`) are due over SPREAD
seconds (whole seconds, REMINDERS / SPREAD in each) starting LEAD seconds ahead, reads every user's change feed until
each reminder has fired, and reports the lateness (the `reminder` change's
`at` minus the reminder's moment, both the server's clock) as p50/p99/max.
It then leaves the server with nothing due for IDLE seconds and reports the
CPU it used (utime + stime from /proc). Figures go to stdout and to
bench/results/1.4-reminders.md. Everything it starts lives in one
temporary directory and is stopped and removed on exit.

Settings (environment): REMINDERS (1000), USERS (10), SPREAD (5), LEAD (15),
IDLE (60), BACKENDS ("sqlite postgres"), BENCH_BIN (target/release/todo-api),
PG_BIN (the newest /usr/lib/postgresql/*/bin).
"""

import base64
import concurrent.futures
import datetime
import glob
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REMINDERS = int(os.environ.get("REMINDERS", "1000"))
USERS = int(os.environ.get("USERS", "10"))
SPREAD = int(os.environ.get("SPREAD", "5"))
LEAD = int(os.environ.get("LEAD", "15"))
IDLE = int(os.environ.get("IDLE", "60"))
BACKENDS = os.environ.get("BACKENDS", "sqlite postgres").split()
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "target/release/todo-api"))
SECRET = "reminders-bench-secret-that-is-long-enough"
# Loopback only: never through a proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
REPORT = os.path.join(REPO, "bench/results/1.4-reminders.md")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(user):
    """An HS256 token signed with the server's BETTER_AUTH_SECRET."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600}).encode())
    signed = f"{header}.{claims}".encode()
    signature = b64(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


def request(method, url, user, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token(user)}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=30) as response:
            return response.status, json.load(response), response.headers.get("Link")
    except urllib.error.HTTPError as error:
        sys.exit(f"reminders.py: {method} {url}: {error.code} {error.read().decode()[:500]}")


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def pg_cluster(work):
    """Starts a throwaway cluster on a free port; returns (url, stop)."""
    pg_bin = os.environ.get("PG_BIN") or (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [""])[-1]
    initdb = os.path.join(pg_bin, "initdb") if pg_bin else shutil.which("initdb")
    if not initdb or not os.access(initdb, os.X_OK):
        sys.exit("reminders.py: initdb not found: apt-get install postgresql (or set PG_BIN)")
    pg_ctl = os.path.join(os.path.dirname(initdb), "pg_ctl")
    # initdb refuses to run as root: as root, the cluster is the postgres user's.
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pg_dir, port = os.path.join(work, "pg"), free_port()
    os.mkdir(pg_dir)
    if as_pg:
        os.chmod(work, 0o755)
        shutil.chown(pg_dir, "postgres")
    data = os.path.join(pg_dir, "data")
    subprocess.run(as_pg + [initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, stdout=subprocess.DEVNULL)
    # Default durability (fsync and synchronous_commit on), as bench/run's.
    subprocess.run(as_pg + [pg_ctl, "-D", data, "-l", os.path.join(pg_dir, "server.log"), "-w",
                            "start", "-o", f"-p {port} -k {pg_dir} -c listen_addresses=127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL)

    def stop():
        subprocess.run(as_pg + [pg_ctl, "-D", data, "-m", "fast", "stop"], stdout=subprocess.DEVNULL)

    return f"postgres://postgres@127.0.0.1:{port}/postgres", stop


def start_server(work, env):
    port = free_port()
    env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port),
           "BETTER_AUTH_SECRET": SECRET, "RUST_LOG": "warn"}
    log = open(os.path.join(work, f"server-{port}.log"), "w")
    server = subprocess.Popen([BIN], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with OPENER.open(url + "/health", timeout=1):
                return server, url
        except OSError:
            if server.poll() is not None:
                sys.exit(f"reminders.py: the server exited; see {log.name}")
            time.sleep(0.1)
    sys.exit("reminders.py: the server did not answer /health in 60 s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def feed(url, user):
    """The user's change feed from the start, every page."""
    changes, next_url = [], f"{url}/api/{user}/changes?since=1&limit=500"
    while next_url:
        _, page, link = request("GET", next_url, user)
        changes.extend(page)
        next_url = url + link[link.index("<") + 1:link.index(">")] if link and 'rel="next"' in link else None
    return changes


def run(backend, work):
    env, stop = {}, None
    if backend == "postgres":
        env["DATABASE_URL"], stop = pg_cluster(work)
    else:
        env["SQLITE_PATH"] = os.path.join(work, "bench.db")
    server, url = start_server(work, env)
    try:
        users = [f"reminder-user-{i}" for i in range(USERS)]
        # Whole seconds: a reminder's `at` has no fraction. REMINDERS / SPREAD per second.
        start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        start += datetime.timedelta(seconds=LEAD)
        moments = [start + datetime.timedelta(seconds=SPREAD * i // REMINDERS) for i in range(REMINDERS)]

        def create(i):
            at = moments[i].strftime("%Y-%m-%dT%H:%M:%SZ")
            status, _, _ = request("POST", f"{url}/api/{users[i % USERS]}/tasks", users[i % USERS],
                                   {"title": f"reminder {i}", "reminders": [{"at": at}]})
            assert status == 201, status

        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(create, range(REMINDERS)))
        created = time.monotonic() - began
        if created > LEAD - 1:
            sys.exit(f"reminders.py: creating took {created:.1f} s, more than LEAD={LEAD} - 1: raise LEAD")

        deadline = time.monotonic() + LEAD + SPREAD + 120
        while True:
            fired = [c for user in users for c in feed(url, user) if c["type"] == "reminder"]
            if len(fired) >= REMINDERS or time.monotonic() > deadline:
                break
            time.sleep(1)
        ids = [c["task"]["id"] for c in fired]
        if len(set(ids)) != REMINDERS or len(ids) != REMINDERS:
            sys.exit(f"reminders.py: {len(ids)} reminder changes for {len(set(ids))} tasks, expected {REMINDERS} once each")
        late = sorted((instant(c["at"]) - instant(c["reminder"]["at"])).total_seconds() * 1000 for c in fired)

        before, began = cpu_seconds(server.pid), time.monotonic()
        time.sleep(IDLE)
        idle_cpu = cpu_seconds(server.pid) - before
        idle_wall = time.monotonic() - began
        return {
            "backend": backend, "created": created,
            "p50": late[len(late) // 2], "p99": late[int((len(late) - 1) * 0.99)], "max": late[-1],
            "min": late[0], "idle_ms": idle_cpu * 1000, "idle_pct": idle_cpu / idle_wall * 100,
        }
    finally:
        server.terminate()
        server.wait()
        if stop:
            stop()


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"reminders.py: no server binary at {BIN}: run cargo build --release first")
    work = tempfile.mkdtemp(prefix="reminders-bench-")
    try:
        results = [run(backend, work) for backend in BACKENDS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"# Reminders: {REMINDERS} due over {SPREAD} s ({USERS} users), one release server",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"`python3 bench/reminders.py`. Lateness = the `reminder` change's `at` minus the reminder's "
        f"moment. Idle = CPU over {IDLE} s with nothing due.",
        "",
        "| backend | tasks created in | lateness min | p50 | p99 | max | idle CPU | idle CPU % of one core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['backend']} | {r['created']:.1f} s | {r['min']:.0f} ms | {r['p50']:.0f} ms | "
                     f"{r['p99']:.0f} ms | {r['max']:.0f} ms | {r['idle_ms']:.0f} ms | {r['idle_pct']:.3f} % |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(REPORT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
