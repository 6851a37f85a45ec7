#!/usr/bin/env python3
"""Renders bench/run's raw measurements as the markdown report.

    report.py RESULTS.tsv META.tsv

RESULTS.tsv: a header line, then one row per measured wrk run (see COLUMNS).
META.tsv: `key<TAB>value` lines; per-backend keys are prefixed `postgres.` or
`sqlite.`.
"""

import csv
import sys

COLUMNS = ["backend", "workload", "connections", "requests", "duration_us",
           "p50_us", "p99_us", "connect", "read", "write", "timeout", "status",
           "cpu_ticks", "clk_tck", "wall_ns", "cores", "pgbench_tps",
           "pgbench_failed", "machine_busy", "machine_total", "postgres_ticks",
           "wrk_ticks", "pgbench_pg_ticks", "pgbench_client_ticks", "pgbench_txns",
           "bytes"]
# Above this share of the machine used by other processes, a run is flagged.
OTHER_LIMIT = 10.0
BACKENDS = {"postgres": "PostgreSQL", "sqlite": "SQLite (embedded)"}
DASH = "—"


def ms(microseconds: str) -> str:
    value = int(microseconds) / 1000
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def errors(row: dict) -> str:
    kinds = ["connect", "read", "write", "timeout", "status"]
    counts = {kind: int(row[kind]) for kind in kinds}
    total = sum(counts.values())
    if total == 0:
        return "0"
    detail = ", ".join(f"{kind} {n:,}" for kind, n in counts.items() if n)
    return f"**{total:,}** ({detail})"


def response_size(row: dict) -> str:
    """Bytes wrk read per response, headers included."""
    if not row.get("bytes") or int(row["requests"]) == 0:
        return DASH
    size = int(row["bytes"]) / int(row["requests"])
    return f"{size / 1000:,.1f} kB" if size >= 1000 else f"{size:,.0f} B"


def cpu_percent(row: dict) -> float:
    seconds = int(row["cpu_ticks"]) / int(row["clk_tck"])
    wall = int(row["wall_ns"]) / 1e9
    return seconds / wall / int(row["cores"]) * 100


def table(rows: list[dict], backend: str) -> list[str]:
    lines = ["| workload | API req/s | p50 | p99 | errors | response | server CPU % "
             "| pgbench tps | API ÷ pgbench |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        if row["backend"] != backend:
            continue
        rate = int(row["requests"]) / (int(row["duration_us"]) / 1e6)
        name = row["workload"]
        if int(row["connections"]) != default_connections:
            name += f" @{row['connections']}"
        tps = row["pgbench_tps"]
        if tps:
            failed = int(row["pgbench_failed"] or 0)
            tps_text = f"{float(tps):,.0f}" + (f" ({failed:,} failed)" if failed else "")
            ratio = f"{rate / float(tps) * 100:.0f} %" if float(tps) > 0 else DASH
        else:
            tps_text, ratio = DASH, DASH
        lines.append(f"| {name} | {rate:,.0f} | {ms(row['p50_us'])} | {ms(row['p99_us'])} "
                     f"| {errors(row)} | {response_size(row)} | {cpu_percent(row):.0f} % "
                     f"| {tps_text} | {ratio} |")
    return lines


def cpu_shares(rows: list[dict], backend: str) -> list[str]:
    """Where the machine's CPU went during the measured API runs."""
    mine = [row for row in rows if row["backend"] == backend]
    total = sum(int(row["machine_total"]) for row in mine)
    if total <= 0:
        return []
    server = sum(int(row["cpu_ticks"]) for row in mine)
    postgres = sum(int(row["postgres_ticks"]) for row in mine)
    wrk = sum(int(row["wrk_ticks"]) for row in mine)
    busy = sum(int(row["machine_busy"]) for row in mine)

    def other_share(row: dict) -> float:
        other = (int(row["machine_busy"]) - int(row["cpu_ticks"])
                 - int(row["postgres_ticks"]) - int(row["wrk_ticks"]))
        return max(0, other) / max(1, int(row["machine_total"])) * 100

    def pct(ticks: int) -> str:
        return f"{max(0, ticks) / total * 100:.0f} %"

    worst = max(mine, key=other_share)
    parts = [f"server {pct(server)}"]
    if postgres:
        parts.append(f"PostgreSQL {pct(postgres)}")
    parts += [f"wrk {pct(wrk)}", f"other processes {pct(busy - server - postgres - wrk)}",
              f"idle {pct(total - busy)}"]
    lines = [f"- Whole machine during the measured API runs (100 % = all cores): "
             f"{', '.join(parts)}; other processes peaked at "
             f"{other_share(worst):.0f} % ({worst['workload']} @{worst['connections']})"]
    flagged = [f"{row['workload']} @{row['connections']}" for row in mine
               if other_share(row) > OTHER_LIMIT]
    if flagged:
        lines.append(f"- **Warning:** processes outside the benchmark used more than "
                     f"{OTHER_LIMIT:.0f} % of the machine during {', '.join(flagged)}: "
                     f"those numbers are low; rerun on a quiet machine.")
    return lines


def cpu_costs(rows: list[dict], backend: str) -> list[str]:
    """CPU time per request (API run) and per transaction (pgbench run), in µs.

    On a machine that load generator, server and database share, the ratio
    API ÷ pgbench is bounded by (PostgreSQL + pgbench) ÷ (server + PostgreSQL +
    wrk) per request: this table shows where each request's CPU goes.
    """
    # Rows without a pgbench run (SQLite, BENCH_BIN) show a dash on its side.
    mine = [row for row in rows if row["backend"] == backend
            and int(row["connections"]) == default_connections]
    if not mine:
        return []

    def per(ticks: str, count: float) -> str:
        if not ticks or not count:
            return DASH
        return f"{int(ticks) / int(mine[0]['clk_tck']) / count * 1e6:,.0f}"

    postgres = backend == "postgres"
    lines = [
        "",
        "CPU time per request (API run) and per transaction (pgbench run), in µs, from "
        "/proc tick counts (10 ms resolution). Sharing 2 cores, the API can reach at most "
        "about (PostgreSQL + pgbench) ÷ (server + PostgreSQL + wrk) of pgbench's rate."
        if postgres else
        "CPU time per request, in µs, from /proc tick counts (10 ms resolution); SQLite "
        "runs inside the server, so its work is in the server's column.",
        "",
        "| workload | server | PostgreSQL | wrk | all (API) | PostgreSQL (pgbench) | pgbench client | all (pgbench) |"
        if postgres else "| workload | server | wrk | all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|" if postgres else "|---|---:|---:|---:|",
    ]
    for row in mine:
        if not postgres:
            lines.append(
                f"| {row['workload']} | {per(row['cpu_ticks'], int(row['requests']))} "
                f"| {per(row['wrk_ticks'], int(row['requests']))} "
                f"| {per(str(int(row['cpu_ticks']) + int(row['wrk_ticks'])), int(row['requests']))} |")
            continue
        requests = int(row["requests"])
        txns = int(row["pgbench_txns"] or 0)
        api = [int(row[k]) for k in ("cpu_ticks", "postgres_ticks", "wrk_ticks")]
        bench = [int(row[k] or 0) for k in ("pgbench_pg_ticks", "pgbench_client_ticks")]
        lines.append(
            f"| {row['workload']} | {per(row['cpu_ticks'], requests)} "
            f"| {per(row['postgres_ticks'], requests)} "
            f"| {per(row['wrk_ticks'], requests)} "
            f"| {per(str(sum(api)), requests)} | {per(row['pgbench_pg_ticks'], txns)} "
            f"| {per(row['pgbench_client_ticks'], txns)} | {per(str(sum(bench)), txns)} |")
    return lines


def floor_section(rows: list[dict]) -> list[str]:
    """todo-api beside the floor (bench/floor) and pgbench, for the floor's workloads."""
    floor = {row["workload"]: row for row in rows if row["backend"] == "floor"}
    api = {row["workload"]: row for row in rows if row["backend"] == "postgres"
           and int(row["connections"]) == default_connections}
    if not floor:
        return []

    def rate(row: dict) -> float:
        return int(row["requests"]) / (int(row["duration_us"]) / 1e6)

    def per(row: dict, key: str) -> float:
        return int(row[key]) / int(row["clk_tck"]) / int(row["requests"]) * 1e6

    lines = [
        "## Beside the floor (PostgreSQL)",
        "",
        "The floor (`bench/floor`, built with `cargo build --release --example floor`) does the two "
        "hot reads with the least code: hyper, tokio-postgres over 2 shared connections, the same "
        "SQL, token check, JSON bytes, allocator and runtime (bench/instructions.py checks the "
        "bodies and statements are the same). Run right after the API, on the same cluster and "
        "rows, with the same wrk settings. CPU in µs per request.",
        "",
        "| workload | floor req/s | todo-api req/s | pgbench tps | floor ÷ pgbench | todo-api ÷ pgbench "
        "| floor server CPU | todo-api server CPU | todo-api ÷ floor | floor PostgreSQL CPU "
        "| todo-api PostgreSQL CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in floor.items():
        mine = api.get(name)
        tps = float(mine["pgbench_tps"]) if mine and mine["pgbench_tps"] else 0.0

        def ratio(value: float) -> str:
            return f"{value / tps * 100:.0f} %" if tps else DASH

        floor_cpu, floor_pg = per(row, "cpu_ticks"), per(row, "postgres_ticks")
        if mine:
            api_cpu, api_pg = per(mine, "cpu_ticks"), per(mine, "postgres_ticks")
            api_cells = [f"{rate(mine):,.0f}", f"{api_cpu:,.0f}", f"{api_cpu / floor_cpu:.2f}",
                         f"{api_pg:,.0f}", ratio(rate(mine))]
        else:
            api_cells = [DASH] * 5
        lines.append(
            f"| {name} | {rate(row):,.0f} | {api_cells[0]} | {f'{tps:,.0f}' if tps else DASH} "
            f"| {ratio(rate(row))} | {api_cells[4]} | {floor_cpu:,.0f} | {api_cells[1]} "
            f"| {api_cells[2]} | {floor_pg:,.0f} | {api_cells[3]} |")
    lines.append("")
    return lines


def mib(kilobytes: str) -> str:
    return f"{int(kilobytes) / 1024:.1f} MiB"


def main() -> int:
    global default_connections
    results_path, meta_path = sys.argv[1:3]
    with open(meta_path, encoding="utf-8") as f:
        meta = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    with open(results_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    default_connections = int(meta["connections"])

    out = [
        "# todo-api HTTP benchmark",
        "",
        f"`bash bench/run` on {meta['date']}, commit {meta['commit']}. "
        f"Each workload: `wrk -t{meta['threads']} -c{meta['connections']} "
        f"-d{meta['seconds']}s --latency` after a {meta['warmup']} s warm-up "
        f"(the @{meta['high_connections']} rows: one run, no warm-up); "
        f"pgbench `-M prepared -c{meta['connections']} -j{meta['threads']} "
        f"-T{meta['seconds']}` over TCP, tps without connection set-up. "
        f"Server: release build, `RUST_LOG=warn`, `DB_POOL_SIZE={meta['pool_size']}`"
        f"{', `' + meta['server_env'] + '`' if meta.get('server_env') else ''}. "
        f"Data: bench-a and bench-b 50 tasks each, bench-big {meta['big_tasks']} tasks, "
        f"seeded through the API with priorities, tags and due dates (bench/seed.py). "
        f"Response: bytes read per response, headers included. "
        f"Server CPU %: 100 % = all {meta['nproc']} cores.",
        "",
    ]
    for backend in [b for b in ("postgres", "sqlite") if f"{b}.startup_ms" in meta]:
        out += [f"## {BACKENDS[backend]}", ""]
        if meta.get(f"{backend}.note"):
            out += [meta[f"{backend}.note"], ""]
        out += table(rows, backend)
        out += [
            "",
            f"- Server RSS after the run: {mib(meta[backend + '.rss_kb'])} "
            f"(peak {mib(meta[backend + '.hwm_kb'])})",
            f"- Start-up, exec to first `/health` 200: {meta[backend + '.startup_ms']} ms "
            f"(empty database, migrations applied; polled with curl every 5 ms)",
            f"- Seeding through the API: {meta[backend + '.seed']}",
        ]
        if meta.get(f"{backend}.matches"):
            out.append(f"- Filtered workloads' matches: {meta[backend + '.matches']}")
        out += cpu_shares(rows, backend)
        out += cpu_costs(rows, backend)
        out.append("")
    out += floor_section(rows)
    out += [
        "## Machine",
        "",
        f"- {meta['nproc']} cores (`nproc`), {meta['cpu_model']}, {meta['memory']} RAM",
        f"- {meta['pg_version']}; {meta['wrk_version']}; {meta['kernel']}",
        f"- Load generator, server and database share the machine; load average "
        f"before the run: {meta['loadavg']} (anything else running skews the numbers).",
        f"- Date: {meta['date']}",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
