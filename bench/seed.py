#!/usr/bin/env python3
"""Creates tasks through the HTTP API and prints their ids, ascending, one a line.

    seed.py --url http://127.0.0.1:PORT --user bench-a --token TOKEN --count 50 [--threads 4]
    seed.py --url … --user bench-a --token TOKEN --versions         # prints 1:7,2:9,…
    seed.py --url … --user bench-a --token TOKEN --restore 1,2,…    # the seeded titles again

Each thread keeps one keep-alive connection (http.client). The texts are
realistic (titles ~20 characters, descriptions ~60) and depend only on the user
and the task's number, so every run seeds the same data. Any answer other than
201 stops the seeding with an error; the whole run is bounded by --deadline.

Tasks carry the contract 1.1 fields too, drawn from a second random stream so
titles and descriptions are the ones every earlier run seeded:

- priority: none 40 %, low 25 %, medium 20 %, high 15 %;
- tags: none for 30 % of tasks, else 1–3 from an eight-word vocabulary of
  unequal weights (TAGS): `home` (TAG_FILTERED, the tag bench/run's
  list50tag filters by) is on about a quarter of tasks, 15 of bench-a's 50;
- due: none for 40 %, an all-day date for 25 %, a wall-clock time in one of six
  IANA zones for 35 %; dates from 30 days before to 90 after 2026-12-01;
- 1 % of descriptions end with a sentence holding SEARCH_WORD (`passport`),
  which no other text contains: the word bench/run's search10k looks for
  (106 of bench-big's 10 000 tasks; one of bench-a's).
"""

import argparse
import datetime
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

VERBS = ["Review", "Update", "Call", "Email", "Book", "Fix", "Plan", "Renew",
         "Order", "Draft", "Clean", "Pay", "Schedule", "Back up", "Test", "Sort"]
THINGS = ["the budget", "dentist visit", "team retro", "car insurance",
          "flights home", "kitchen sink", "landing page", "garden hose",
          "tax return", "the invoices", "photo albums", "bike brakes",
          "release notes", "the backlog", "gym pass", "spare keys"]
DETAILS = ["Check the numbers with Sam and send a short summary",
           "Compare three offers and pick the cheapest good one",
           "Ask the team what is blocking them and write it down",
           "Gather the receipts from the drawer and scan them",
           "Look at last year's notes first, then decide quickly",
           "Keep it short: ten minutes at most, then move on"]
WHENS = ["by Friday", "this week", "before lunch", "on Monday", "tonight"]

PRIORITIES = (["none", "low", "medium", "high"], [40, 25, 20, 15])
# Tags and their weights: a few common ones, a long tail.
TAGS = {"work": 30, "home": 25, "errands": 15, "finance": 10, "health": 8,
        "family": 6, "urgent": 4, "someday": 2}
TAG_FILTERED = "home"
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London",
         "America/Los_Angeles", "Australia/Sydney"]
DUE_BASE = datetime.date(2026, 12, 1)
SEARCH_WORD = "passport"
SEARCH_SHARE = 0.01


def task_body(user: str, number: int) -> bytes:
    rng = random.Random(f"{user}:{number}")
    title = f"{rng.choice(VERBS)} {rng.choice(THINGS)}"
    description = f"{rng.choice(DETAILS)} {rng.choice(WHENS)}."
    if os.environ.get("BENCH_PLAIN") == "1":
        # 1.0's rows (title and description only), to compare with 1.0 servers.
        return json.dumps({"title": title, "description": description}).encode()
    # The 1.1 fields from their own stream: the texts above stay as they were.
    extra = random.Random(f"{user}:{number}:1.1")
    body: dict = {"title": title, "description": description,
                  "priority": extra.choices(*PRIORITIES)[0]}
    tag_count = extra.choices([0, 1, 2, 3], [30, 40, 20, 10])[0]
    tags: list[str] = []
    while len(tags) < tag_count:
        tag = extra.choices(list(TAGS), list(TAGS.values()))[0]
        if tag not in tags:
            tags.append(tag)
    if tags:
        body["tags"] = tags
    kind = extra.choices(["none", "date", "time"], [40, 25, 35])[0]
    day = DUE_BASE + datetime.timedelta(days=extra.randint(-30, 90))
    if kind == "date":
        body["due"] = {"date": day.isoformat()}
    elif kind == "time":
        clock = f"{extra.randint(7, 19):02d}:{extra.choice(['00', '15', '30', '45'])}"
        body["due"] = {"datetime": f"{day.isoformat()}T{clock}",
                       "time_zone": extra.choice(ZONES)}
    if extra.random() < SEARCH_SHARE:
        body["description"] = f"{description} Bring the {SEARCH_WORD}."
    return json.dumps(body).encode()


def versions(conn: http.client.HTTPConnection, path: str, headers: dict) -> int:
    """Prints the user's tasks as `id:version,…` (version 0 from a server
    before 1.2), for bench/wrk/put.lua, which sends each task's ETag."""
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        print(f"seed.py: GET {path}: {response.status} {body[:300]!r}", file=sys.stderr)
        return 1
    print(",".join(f"{task['id']}:{task.get('version', 0)}" for task in json.loads(body)))
    return 0


def restore(conn: http.client.HTTPConnection, path: str, headers: dict,
            user: str, ids: list[str]) -> int:
    """PUTs back the titles seeding gave the tasks `ids` (the user's tasks in
    seed order, as one connection seeds them), after bench/run's put renamed them."""
    for number, task_id in enumerate(ids):
        title = json.loads(task_body(user, number))["title"]
        conn.request("PUT", f"{path}/{task_id}", body=json.dumps({"title": title}).encode(),
                     headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            print(f"seed.py: PUT {path}/{task_id}: {response.status} {body[:300]!r}",
                  file=sys.stderr)
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--user", required=True)
    parser.add_argument("--token", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--count", type=int, help="how many tasks to create")
    mode.add_argument("--versions", action="store_true",
                      help="print the user's tasks as id:version,…")
    mode.add_argument("--restore", metavar="IDS",
                      help="put the seeded titles back on the tasks IDS (in seed order)")
    parser.add_argument("--threads", type=int, default=1,
                        help="1 keeps the ids contiguous (tasks created in order)")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="seconds the whole seeding may take")
    args = parser.parse_args()

    url = urllib.parse.urlsplit(args.url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        print("seed.py: only loopback addresses may be targeted", file=sys.stderr)
        return 2
    path = f"/api/{urllib.parse.quote(args.user, safe='')}/tasks"
    headers = {"Authorization": f"Bearer {args.token}",
               "Content-Type": "application/json"}
    if args.count is None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            if args.versions:
                return versions(conn, path, headers)
            return restore(conn, path, headers, args.user, args.restore.split(","))
        finally:
            conn.close()
    started = time.monotonic()
    deadline = started + args.deadline
    ids: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(first: int) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            for number in range(first, args.count, args.threads):
                if failures:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"seeding took longer than {args.deadline} s")
                conn.request("POST", path, body=task_body(args.user, number), headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status != 201:
                    raise RuntimeError(f"POST {path}: {response.status} {body[:300]!r}")
                task_id = json.loads(body)["id"]
                with lock:
                    ids.append(task_id)
        except Exception as err:  # reported once, stops the other threads
            with lock:
                failures.append(f"{type(err).__name__}: {err}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(max(1, args.threads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 15)
    if failures or len(ids) != args.count:
        reason = failures[0] if failures else f"only {len(ids)} of {args.count} created"
        print(f"seed.py: seeding {args.user} failed: {reason}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(f"seeded {args.count} tasks for {args.user} in {elapsed:.1f} s "
          f"({args.count / elapsed:,.0f}/s, {args.threads} connection(s))", file=sys.stderr)
    print("\n".join(str(task_id) for task_id in sorted(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
