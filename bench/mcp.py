#!/usr/bin/env python3
"""MCP tool calls next to the REST calls they wrap: latency and server CPU.

    cargo build --release && python3 bench/mcp.py

For each backend (a fresh SQLite file, then a throwaway PostgreSQL cluster
with default durability) it starts one release server, gives a user 50
tasks, then makes CALLS sequential calls (after WARMUP) of each pair over one
kept-alive connection: the REST request, then the MCP `tools/call` that runs
it (JSON-RPC over Streamable HTTP, stateless, no `initialize`, as an agent
framework's client sends it). It reports the client-side latency (p50, p99)
and the server's CPU per call (utime + stime from /proc, over all the calls).
Figures go to stdout and to bench/results/mcp.md; everything it starts lives
in one temporary directory and is stopped and removed on exit.

Settings (environment): CALLS (3000), WARMUP (300), BACKENDS ("sqlite postgres"),
BENCH_BIN (target/release/todo-api), PG_BIN (the newest /usr/lib/postgresql/*/bin).
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Client  # noqa: E402
from reminders import BIN, REPO, cpu_seconds, pg_cluster, start_server  # noqa: E402

CALLS = int(os.environ.get("CALLS", "3000"))
WARMUP = int(os.environ.get("WARMUP", "300"))
BACKENDS = os.environ.get("BACKENDS", "sqlite postgres").split()
REPORT = os.path.join(REPO, "bench/results/mcp.md")
USER = "mcp-bench"


class McpClient(Client):
    """bench/common.py's kept-alive connection, as USER, with MCP tool calls."""

    def __init__(self, url):
        super().__init__(url, USER)

    def tool(self, name, arguments):
        status, payload = self.send(
            "POST",
            "/mcp",
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
             "params": {"name": name, "arguments": {"user_id": USER, **arguments}}},
            [("Accept", "application/json, text/event-stream"),
             ("MCP-Protocol-Version", "2025-11-25")],
        )
        result = json.loads(payload).get("result", {})
        if status != 200 or result.get("isError"):
            sys.exit(f"mcp.py: {name}: {status} {payload[:300]!r}")
        return result["structuredContent"]


def measure(server, call):
    """Latencies (ms) of CALLS calls, and the server's CPU µs per call."""
    for _ in range(WARMUP):
        call()
    latencies = []
    cpu = cpu_seconds(server.pid)
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    cpu = cpu_seconds(server.pid) - cpu
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "cpu_us": cpu / CALLS * 1e6,
    }


def run(backend, work):
    stop = None
    if backend == "sqlite":
        env = {"SQLITE_PATH": os.path.join(work, "mcp.db")}
    else:
        url, stop = pg_cluster(work)
        env = {"NEON_DB_URL": url}
    server, url = start_server(work, env)
    try:
        client = McpClient(url)
        tasks = f"/api/{USER}/tasks"
        ids = [json.loads(client.send("POST", tasks, {"title": f"task {n}", "priority": "high"})[1])["id"]
               for n in range(50)]
        target = ids[0]

        def rest(method, path, body=None, expect=200):
            def call():
                status, payload = client.send(method, path, body)
                if status != expect:
                    sys.exit(f"mcp.py: {method} {path}: {status} {payload[:300]!r}")
            return call

        pairs = [
            ("list 50", rest("GET", f"{tasks}?limit=50"),
             lambda: client.tool("list_tasks", {"limit": 50})),
            ("create", rest("POST", tasks, {"title": "bench"}, 201),
             lambda: client.tool("add_task", {"title": "bench"})),
            ("complete", rest("PATCH", f"{tasks}/{target}/complete", {"completed": True}),
             lambda: client.tool("complete_task", {"task_id": target})),
            ("update", rest("PUT", f"{tasks}/{target}", {"title": "renamed"}),
             lambda: client.tool("update_task", {"task_id": target, "title": "renamed"})),
        ]
        rows = []
        for name, rest_call, tool_call in pairs:
            rows.append((name, measure(server, rest_call), measure(server, tool_call)))
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)
        if stop:
            stop()


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"mcp.py: {BIN} not found: cargo build --release (or set BENCH_BIN)")
    lines = [
        "# MCP tool calls next to the REST calls they wrap",
        "",
        f"`python3 bench/mcp.py`: {CALLS} sequential calls of each (after {WARMUP} warm-up) over one "
        "kept-alive connection, release build, "
        f"{os.cpu_count()} cores. Latency is the client's; CPU is the server's (utime + stime) per call.",
        "",
    ]
    for backend in BACKENDS:
        work = tempfile.mkdtemp(prefix="todo-mcp-bench-")
        try:
            rows = run(backend, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        lines += [
            f"## {backend}",
            "",
            "| operation | REST p50 ms | MCP p50 ms | REST p99 ms | MCP p99 ms | REST CPU µs | MCP CPU µs |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, rest, tool in rows:
            lines.append(
                f"| {name} | {rest['p50']:.3f} | {tool['p50']:.3f} | {rest['p99']:.3f} | "
                f"{tool['p99']:.3f} | {rest['cpu_us']:.0f} | {tool['cpu_us']:.0f} |"
            )
        lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(REPORT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
