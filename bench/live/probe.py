#!/usr/bin/env python3
"""Clients for bench/live/run: event streams (Server-Sent Events) and the creates
whose events they wait for. Python 3.9+, standard library only; one asyncio loop
per process, so the clock that stamps a 201 and the clock that stamps an event
are the same (time.monotonic_ns) and no thread switch sits between them.

    probe.py latency --write-url A --read-url B --user U --token T --samples N
        Holds U's stream on B; creates U's tasks on A one at a time, at random
        intervals; latency = the 201 read on A -> the event with that task's
        seq (the 201's `version`) read on B (negative when the event came
        first), and from the request sent to A to the event. One JSON line.
    probe.py hold --url U --tokens FILE --streams N --per-user K --ready FILE
        Opens N streams (K per user of FILE's "user token" lines), writes FILE
        (--ready) once all answered 200, holds them until SIGTERM or
        --hold-secs, counting keep-alive comments; one JSON line on stdout.
    probe.py catchup --url U --user U --token T --last-event-id N --expect M
        One stream resuming after N: time from sending the request to the M-th
        event. One JSON line on stdout.
    probe.py report RESULTS.jsonl [META.tsv]
        The markdown tables of a run (from a saved .jsonl alone: its "meta" row).
    probe.py save RESULTS.jsonl META.tsv OUT.jsonl
        The results with the meta data as a first row, to render again later.

Every mode is bounded by --deadline (seconds).
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import time
import urllib.parse


def now_ns() -> int:
    return time.monotonic_ns()


# ---------------------------------------------------------------- HTTP/1.1

class Conn:
    """One keep-alive HTTP/1.1 connection (no TLS, no pipelining)."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 20)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def send(self, method: str, path: str, headers: dict, body: bytes = b"") -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def head(self) -> tuple:
        """The status and the (lower-cased) headers of the next response."""
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return status, headers

    async def body(self, headers: dict) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            async for chunk in self.chunks():
                parts.append(chunk)
            return b"".join(parts)
        return await self.reader.readexactly(int(headers.get("content-length", "0")))

    async def chunks(self):
        """The chunks of a chunked body, as they arrive; ends at the last chunk."""
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            data = await self.reader.readexactly(size + 2)
            yield data[:-2]

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> tuple:
        self.send(method, path, headers, body)
        status, response_headers = await self.head()
        return status, response_headers, await self.body(response_headers)


class Sse:
    """Splits a stream's bytes into events and keep-alive comments."""

    def __init__(self):
        self.buffer = b""
        self.comments = 0
        self.events = 0

    def feed(self, data: bytes):
        """The (id, type, data) of every complete event in `data`."""
        self.buffer += data
        *blocks, self.buffer = self.buffer.split(b"\n\n")
        out = []
        for block in blocks:
            event_id = kind = payload = None
            for line in block.split(b"\n"):
                if line.startswith(b":"):
                    continue
                field, _, value = line.partition(b":")
                value = value[1:] if value.startswith(b" ") else value
                if field == b"id":
                    event_id = value
                elif field == b"event":
                    kind = value
                elif field == b"data":
                    payload = value
            if event_id is None and kind is None and payload is None:
                self.comments += 1
            else:
                self.events += 1
                out.append((event_id, kind, payload))
        return out


async def open_stream(url: str, user: str, token: str, extra: dict = None) -> tuple:
    """A stream of `user`'s events: (conn, status, headers) after the response's head."""
    conn = Conn(url)
    await conn.open()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    headers.update(extra or {})
    conn.send("GET", f"/api/{user}/events", headers)
    status, response_headers = await conn.head()
    return conn, status, response_headers


def percentile(sorted_values: list, p: float):
    """Nearest rank."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def summary_ms(values_ns: list) -> dict:
    values = sorted(v / 1e6 for v in values_ns)
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": values[0], "p50": percentile(values, 50),
            "p90": percentile(values, 90), "p99": percentile(values, 99),
            "max": values[-1], "mean": sum(values) / len(values)}


# ---------------------------------------------------------------- latency

async def latency(args) -> dict:
    arrived = {}       # seq -> ns the event was read on B
    acked = {}         # seq -> ns the 201 was read on A
    sent_at = {}       # seq -> ns its request was sent to A
    create_ns = []     # request sent -> 201 read, on A
    stream, status, headers = await open_stream(args.read_url, args.user, args.token)
    if status != 200:
        raise SystemExit(f"GET /events on {args.read_url}: {status}")
    sse = Sse()

    async def read_events():
        async for chunk in stream.chunks():
            stamp = now_ns()
            for event_id, _, _ in sse.feed(chunk):
                arrived.setdefault(int(event_id), stamp)

    reader = asyncio.create_task(read_events())
    writer = Conn(args.write_url)
    await writer.open()
    path = f"/api/{args.user}/tasks"
    auth = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    rng = random.Random(1)
    started = now_ns()
    deadline = started + int(args.seconds * 1e9)
    number = 0
    # Let the stream settle (its first read of the feed) before the first write.
    await asyncio.sleep(0.5)
    while len(acked) < args.samples and now_ns() < deadline:
        number += 1
        body = json.dumps({"title": f"Live probe {number}"}).encode()
        sent = now_ns()
        status, _, answer = await writer.request("POST", path, auth, body)
        stamp = now_ns()
        if status != 201:
            raise SystemExit(f"POST {path} on {args.write_url}: {status} {answer[:200]!r}")
        seq = json.loads(answer)["version"]
        acked[seq] = stamp
        sent_at[seq] = sent
        create_ns.append(stamp - sent)
        if reader.done():
            reader.result()  # raises what ended it
            raise SystemExit("the stream ended")
        # Random gaps, so the writes do not keep step with a poll interval.
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.interval_ms / 1000)
    writes_done = now_ns()
    # The last events: up to two poll intervals, or until all have come.
    wait_until = now_ns() + int(args.tail_secs * 1e9)
    while now_ns() < wait_until and not all(seq in arrived for seq in acked):
        await asyncio.sleep(0.01)
    reader.cancel()
    stream.close()
    writer.close()
    deltas = [arrived[seq] - t for seq, t in acked.items() if seq in arrived]
    from_sent = [arrived[seq] - sent_at[seq] for seq in acked if seq in arrived]
    return {"mode": "latency", "label": args.label, "samples": len(acked),
            "missing": sum(1 for seq in acked if seq not in arrived),
            "negative": sum(1 for d in deltas if d < 0),
            "write_seconds": (writes_done - started) / 1e9,
            "latency_ms": summary_ms(deltas), "from_request_ms": summary_ms(from_sent),
            "create_ms": summary_ms(create_ns),
            "keepalives": sse.comments}


# ---------------------------------------------------------------- hold

async def hold(args) -> dict:
    pairs = []
    with open(args.tokens) as f:
        for line in f:
            if line.strip():
                user, token = line.split()
                pairs.extend([(user, token)] * args.per_user)
    pairs = pairs[:args.streams]
    if len(pairs) < args.streams:
        raise SystemExit(f"{args.tokens} gives {len(pairs)} streams, not {args.streams}")
    sses, conns, refused = [], [], []
    gate = asyncio.Semaphore(args.parallel)

    async def one(user, token):
        async with gate:
            conn, status, _ = await open_stream(args.url, user, token)
        if status != 200:
            refused.append(status)
            conn.close()
            return
        conns.append(conn)
        sse = Sse()
        sses.append(sse)
        try:
            async for chunk in conn.chunks():
                sse.feed(chunk)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    started = now_ns()
    tasks = [asyncio.create_task(one(u, t)) for u, t in pairs]
    while len(conns) + len(refused) < len(pairs) and now_ns() - started < args.deadline * 1e9:
        await asyncio.sleep(0.01)
    opened_s = (now_ns() - started) / 1e9
    if refused or len(conns) < len(pairs):
        raise SystemExit(f"hold: {len(conns)} of {len(pairs)} streams opened; refused: {refused[:5]}")
    with open(args.ready, "w") as f:
        json.dump({"streams": len(conns), "open_seconds": opened_s}, f)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.hold_secs)
    except asyncio.TimeoutError:
        pass
    ended = sum(1 for t in tasks if t.done())
    for t in tasks:
        t.cancel()
    for c in conns:
        c.close()
    return {"mode": "hold", "label": args.label, "streams": len(conns), "open_seconds": opened_s,
            "held_seconds": (now_ns() - started) / 1e9 - opened_s,
            "keepalives": sum(s.comments for s in sses), "events": sum(s.events for s in sses),
            "ended_early": ended}


# ---------------------------------------------------------------- catch-up

async def catchup(args) -> dict:
    sent = now_ns()
    conn, status, _ = await open_stream(args.url, args.user, args.token,
                                        {"Last-Event-ID": str(args.last_event_id)})
    headed = now_ns()
    if status != 200:
        raise SystemExit(f"GET /events: {status}")
    cpu = time.process_time()
    sse = Sse()
    count, previous, first_at, nbytes, kinds = 0, args.last_event_id, None, 0, set()
    async for chunk in conn.chunks():
        nbytes += len(chunk)
        for event_id, kind, _ in sse.feed(chunk):
            seq = int(event_id)
            if seq <= previous:
                raise SystemExit(f"event {seq} after {previous}: out of order")
            previous = seq
            kinds.add(kind.decode())
            count += 1
            if first_at is None:
                first_at = now_ns()
        if count >= args.expect:
            break
    last_at = now_ns()
    conn.close()
    total = (last_at - sent) / 1e9
    return {"mode": "catchup", "label": args.label, "events": count,
            "head_ms": (headed - sent) / 1e6, "first_event_ms": (first_at - sent) / 1e6,
            "last_event_ms": total * 1e3, "events_per_s": count / total,
            "bytes": nbytes, "mb_per_s": nbytes / total / 1e6, "last_seq": previous,
            "kinds": sorted(kinds), "client_cpu_s": time.process_time() - cpu}


# ---------------------------------------------------------------- report

def fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def other(r: dict) -> str:
    """Busy CPU not ours, and (when recorded) how much of it was steal and interrupts."""
    text = f"{fmt(r.get('other_pct'), 0)} %"
    if "steal_pct" in r:
        text += f" ({fmt(r['steal_pct'], 0)}, {fmt(r['irq_pct'], 0)})"
    return text


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def report(results_path: str, meta_path: str = None) -> str:
    """From results.jsonl and meta.tsv; or from a saved .jsonl alone, whose
    "meta" row holds what meta.tsv held."""
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    meta = {}
    for row in rows:
        if row["mode"] == "meta":
            meta.update(row["meta"])
    rows = [row for row in rows if row["mode"] != "meta"]
    if meta_path:
        meta.update(line.rstrip("\n").split("\t", 1) for line in open(meta_path) if "\t" in line)
    out = ["# Live changes (1.3): bench/live/run", ""]
    for key in ("date", "commit", "cpu_model", "nproc", "memory", "kernel", "pg_version",
                "wrk_version", "python", "settings", "quiet_wait"):
        if key in meta:
            out.append(f"- {key}: {meta[key]}")
    out.append("")
    out.append("Each row: the 1-minute load average when the run started (after waiting "
               "for it to fall below the threshold), and `not ours`: the machine's busy "
               "CPU during the run that was not this run's processes (servers, PostgreSQL, "
               "wrk, the Python clients), in % of the machine (2 cores = 100 %); it "
               "includes other processes, the hypervisor's steal and interrupt time "
               "(in brackets, when recorded: steal, irq + softirq).")
    out.append("")

    lat = [r for r in rows if r["mode"] == "latency"]
    if lat:
        out += ["## 1. Write on A → event on B", "",
                "From the 201 read on A to the event read on B (negative: the event came first):", "",
                "| B wakes by | background load on A | load writes/s | samples | min ms | p50 ms | p90 ms | p99 ms | max ms | event before the 201 | missing | load 1-min | not ours |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in lat:
            l = r["latency_ms"]
            out.append(f"| {r['wake']} | {r['load']} | {fmt(r.get('load_rps'), 0)} | {r['samples']} | "
                       f"{fmt(l.get('min'), 2)} | {fmt(l.get('p50'), 2)} | {fmt(l.get('p90'), 2)} | "
                       f"{fmt(l.get('p99'), 2)} | {fmt(l.get('max'), 2)} | "
                       f"{fmt(r['negative'] * 100 / max(1, l['n']), 0)} % | {r['missing']} | "
                       f"{r['load_avg']} | {other(r)} |")
        out += ["", "From the request sent to A to the event read on B (when recorded), and "
                "the create itself (request sent to its 201 read):", "",
                "| B wakes by | background load on A | request → event p50 ms | p99 ms | max ms | create p50 ms | create p99 ms |",
                "|---|---|---:|---:|---:|---:|---:|"]
        for r in lat:
            f, c = r.get("from_request_ms", {}), r["create_ms"]
            out.append(f"| {r['wake']} | {r['load']} | {fmt(f.get('p50'), 2)} | {fmt(f.get('p99'), 2)} | "
                       f"{fmt(f.get('max'), 2)} | {fmt(c.get('p50'), 2)} | {fmt(c.get('p99'), 2)} |")
        out.append("")

    held = [r for r in rows if r["mode"] == "hold"]
    if held:
        out += [f"## 2. {held[0]['streams']:,} idle streams on one instance".replace(",", " "), "",
                "| wakes by | streams (users) | opened in s | RSS before MiB | RSS with MiB | RSS after closing MiB | server CPU idle % of a core | PostgreSQL CPU % of a core | keep-alives received | window s | load 1-min | not ours |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in held:
            out.append(f"| {r['wake']} | {r['streams']} ({r['users']}) | {fmt(r['open_seconds'], 2)} | "
                       f"{fmt(r['rss_before_kb'] / 1024)} | {fmt(r['rss_with_kb'] / 1024)} | "
                       f"{fmt(r['rss_after_kb'] / 1024)} | {fmt(r['server_cpu_pct'], 2)} | "
                       f"{fmt(r['pg_cpu_pct'], 2)} | {r['keepalives']} | {fmt(r['window_s'], 1)} | "
                       f"{r['load_avg']} | {other(r)} |")
        out.append("")

    tp = [r for r in rows if r["mode"] == "throughput"]
    if tp:
        out += ["## 3. Create throughput, trigger with and without pg_notify", "",
                "Each run, in the order run:", "",
                "| round | users | trigger | req/s | p50 ms | p99 ms | errors | server µs/req | PostgreSQL µs/req | load 1-min | not ours |",
                "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in tp:
            out.append(f"| {r['round']} | {r['users']} | {r['trigger']} | {fmt(r['rps'], 0)} | "
                       f"{fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {r['errors']} | "
                       f"{fmt(r['server_us'], 0)} | {fmt(r['pg_us'], 0)} | {r['load_avg']} | "
                       f"{other(r)} |")
        out += ["", "Medians:", "",
                "| users | trigger | runs | req/s | p99 ms | server µs/req | PostgreSQL µs/req | req/s vs without |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        groups = {}
        for r in tp:
            groups.setdefault((r["users"], r["trigger"]), []).append(r)
        for users in dict.fromkeys(r["users"] for r in tp):
            plain = groups.get((users, "without pg_notify"))
            for trigger in ("as migrated, nobody listening", "with pg_notify", "without pg_notify"):
                g = groups.get((users, trigger))
                if not g:
                    continue
                rps = median([r["rps"] for r in g])
                ratio = ""
                if plain and trigger != "without pg_notify":
                    ratio = f"{(rps / median([r['rps'] for r in plain]) - 1) * 100:+.0f} %"
                out.append(f"| {users} | {trigger} | {len(g)} | {fmt(rps, 0)} | "
                           f"{fmt(median([r['p99_ms'] for r in g]), 2)} | "
                           f"{fmt(median([r['server_us'] for r in g]), 0)} | "
                           f"{fmt(median([r['pg_us'] for r in g]), 0)} | {ratio} |")
        out.append("")

    cu = [r for r in rows if r["mode"] == "catchup"]
    if cu:
        out += [f"## 4. Catch-up: a stream resuming {cu[0]['events']:,} changes behind".replace(",", " "), "",
                "| run | events | response head ms | first event ms | last event ms | events/s | MB/s | server CPU ms | PostgreSQL CPU ms | client CPU ms | load 1-min | not ours |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for i, r in enumerate(cu, 1):
            out.append(f"| {i} | {r['events']} | {fmt(r['head_ms'], 1)} | {fmt(r['first_event_ms'], 1)} | "
                       f"{fmt(r['last_event_ms'], 0)} | {fmt(r['events_per_s'], 0)} | {fmt(r['mb_per_s'], 1)} | "
                       f"{fmt(r['server_cpu_ms'], 0)} | {fmt(r['pg_cpu_ms'], 0)} | "
                       f"{fmt(r['client_cpu_s'] * 1000, 0)} | {r['load_avg']} | {other(r)} |")
        out.append(f"\nMedian: {fmt(median([r['last_event_ms'] for r in cu]), 0)} ms to the last event, "
                   f"{fmt(median([r['events_per_s'] for r in cu]), 0)} events/s.")
        out.append("")
    return "\n".join(out)


def summary_line(r: dict) -> str:
    """One line for the log."""
    mode = r["mode"]
    if mode == "latency":
        l = r["latency_ms"]
        return (f"  {r['samples']} samples, p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, "
                f"max {l['max']:.2f} ms, missing {r['missing']}; load {r['load_rps']:.0f} writes/s; "
                f"other CPU {r['other_pct']} %")
    if mode == "throughput":
        return (f"  round {r['round']}, {r['users']} users, {r['trigger']}: {r['rps']:.0f} req/s, "
                f"p99 {r['p99_ms']:.2f} ms, errors {r['errors']}, load {r['load_avg']}, "
                f"other CPU {r['other_pct']} %")
    if mode == "catchup":
        return (f"  {r['events']} events, the last after {r['last_event_ms']:.0f} ms "
                f"({r['events_per_s']:.0f}/s), load {r['load_avg']}")
    return (f"  RSS {r['rss_before_kb'] / 1024:.1f} -> {r['rss_with_kb'] / 1024:.1f} MiB "
            f"(after closing {r['rss_after_kb'] / 1024:.1f}), server CPU {r['server_cpu_pct']:.2f} % "
            f"of a core, PostgreSQL {r['pg_cpu_pct']:.2f} %, {r['keepalives']} keep-alives, "
            f"load {r['load_avg']}")


# ---------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--write-url", required=True)
    p.add_argument("--read-url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--samples", type=int, default=1500)
    p.add_argument("--interval-ms", type=float, default=10.0, help="mean gap between writes")
    p.add_argument("--seconds", type=float, default=60.0, help="the longest time writing")
    p.add_argument("--tail-secs", type=float, default=3.0, help="wait for the last events")
    p.add_argument("--label", default="")
    p = sub.add_parser("hold")
    p.add_argument("--url", required=True)
    p.add_argument("--tokens", required=True, help='a file of "user token" lines')
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--per-user", type=int, default=5)
    p.add_argument("--parallel", type=int, default=64, help="requests in flight while opening")
    p.add_argument("--ready", required=True, help="written once every stream is open")
    p.add_argument("--hold-secs", type=float, default=120.0)
    p.add_argument("--label", default="")
    p = sub.add_parser("catchup")
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--last-event-id", type=int, required=True)
    p.add_argument("--expect", type=int, default=10000)
    p.add_argument("--label", default="")
    p = sub.add_parser("summary")
    p.add_argument("result", help="one JSON result")
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("meta", nargs="?")
    p = sub.add_parser("save")
    p.add_argument("results")
    p.add_argument("meta")
    p.add_argument("out")
    for name in ("latency", "hold", "catchup"):
        sub.choices[name].add_argument("--deadline", type=float, default=180.0)
    args = parser.parse_args()
    if args.mode == "summary":
        print(summary_line(json.loads(args.result)))
        return 0
    if args.mode == "save":
        meta = dict(line.rstrip("\n").split("\t", 1) for line in open(args.meta) if "\t" in line)
        with open(args.out, "w") as out:
            out.write(json.dumps({"mode": "meta", "meta": meta}) + "\n")
            out.write(open(args.results).read())
        return 0
    if args.mode == "report":
        print(report(args.results, args.meta))
        return 0
    run = {"latency": latency, "hold": hold, "catchup": catchup}[args.mode]

    async def bounded():
        return await asyncio.wait_for(run(args), args.deadline)

    try:
        result = asyncio.run(bounded())
    except asyncio.TimeoutError:
        print(f"probe.py {args.mode}: no result within --deadline {args.deadline} s", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
