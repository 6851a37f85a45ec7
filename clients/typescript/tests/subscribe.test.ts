// subscribe() and the change-feed helpers without a server: a fake `fetch` serves event streams
// cut into chunks anywhere, ends them, breaks them and answers errors, the way a network and
// todo-api can (changes.test.ts runs them against a real server).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  changePages,
  createTodoClient,
  listAllChanges,
  subscribe,
  type Change,
  type SubscribeOptions,
  type SubscriptionError,
} from "../src/index.js";

const change = (seq: number, type: Change["type"] = "updated"): Change =>
  type === "purged"
    ? { seq, type, at: "2026-12-01T00:00:00.000000Z", task_id: 1 }
    : {
        seq,
        type,
        at: "2026-12-01T00:00:00.000000Z",
        task: {
          id: 1,
          user_id: "alice",
          // Characters of 2, 3 and 4 UTF-8 bytes, so chunks also split inside a character.
          title: `task é€😀 ${seq}`,
          description: null,
          completed: false,
          priority: "none",
          tags: [],
          due: null,
          recurrence: null,
          reminders: [],
          created_at: "2026-12-01T00:00:00.000000Z",
          updated_at: "2026-12-01T00:00:00.000000Z",
          version: seq,
          trashed_at: type === "trashed" ? "2026-12-01T00:00:00.000000Z" : null,
        },
      };

/** One event as todo-api writes it, with the line ending `eol`. */
const event = (c: Change, eol = "\n") =>
  `id: ${c.seq}${eol}event: ${c.type}${eol}data: ${JSON.stringify(c)}${eol}${eol}`;

const problem = (status: number, detail: string, headers: Record<string, string> = {}) =>
  Response.json(
    { type: "about:blank", title: "Error", status, detail },
    { status, headers: { "Content-Type": "application/problem+json", ...headers } },
  );

/**
 * A 200 event stream of `chunks` (bytes or text); it ends after them unless `then` is "hang"
 * (open until the request is aborted) or "break" (fails like a dropped connection).
 */
function stream(request: Request, chunks: (string | Uint8Array)[], then: "end" | "hang" | "break" = "end") {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      // Each chunk is one read of the body.
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (then === "end") controller.close();
      else if (then === "break") controller.error(new TypeError("terminated: other side closed"));
      else {
        const abort = () => controller.error(request.signal.reason);
        if (request.signal.aborted) abort();
        else request.signal.addEventListener("abort", abort, { once: true });
      }
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" } });
}

type Reply = (request: Request) => Response | Promise<Response>;

/** A client whose fetch answers the i-th request with `replies[i]` (later ones hang until aborted). */
function fakeServer(replies: Reply[]) {
  const requests: Request[] = [];
  let tokens = 0;
  const fetch = async (request: Request): Promise<Response> => {
    requests.push(request);
    const reply = replies[requests.length - 1];
    return reply ? reply(request) : stream(request, [], "hang");
  };
  const client = createTodoClient({
    baseUrl: "http://api.test:8000",
    token: () => `t0ken-${++tokens}`,
    fetch,
  });
  return { client, requests };
}

/** Waits until `done()` holds, polling; fails after `ms`. */
async function until(done: () => boolean, what: string, ms = 5000) {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every subscription made, closed after each test whatever happened. */
const subscriptions = new Set<{ close(): void }>();
afterEach(() => {
  for (const live of subscriptions) live.close();
  subscriptions.clear();
});

/** Subscribes with short retry delays, recording changes, errors and opens. */
function record(client: ReturnType<typeof fakeServer>["client"], extra: Partial<SubscribeOptions> = {}) {
  const changes: Change[] = [];
  const errors: SubscriptionError[] = [];
  let opens = 0;
  const live = subscribe(client, "alice b", {
    retryDelay: 2,
    maxRetryDelay: 20,
    onChange: (c) => changes.push(c),
    onError: (e) => errors.push(e),
    onOpen: () => opens++,
    ...extra,
  });
  subscriptions.add(live);
  return { live, changes, errors, opens: () => opens };
}

describe("subscribe", () => {
  const three = [change(1, "created"), change(2, "completed"), change(3, "purged")];

  it("parses events cut at every byte, with LF, CRLF and CR line endings, skipping comments", async () => {
    // The stream ends after the last event (and reconnects to one that stays open): a final CR
    // is a line ending too.
    for (const eol of ["\n", "\r\n", "\r"]) {
      const text = `: keep-alive${eol}${eol}${three.map((c) => event(c, eol)).join(`:${eol}`)}`;
      const bytes = new TextEncoder().encode(text);
      // Two chunks split at every position, and one byte at a time.
      const cuts: Uint8Array[][] = [];
      for (let at = 1; at < bytes.length; at++) cuts.push([bytes.slice(0, at), bytes.slice(at)]);
      cuts.push(Array.from(bytes, (b) => Uint8Array.of(b)));
      for (const chunks of cuts) {
        const { client } = fakeServer([(request) => stream(request, chunks)]);
        const { live, changes, errors } = record(client);
        await until(() => changes.length === 3 || errors.length > 0, "three changes");
        assert.deepEqual(errors, [], `${JSON.stringify(eol)}, cut ${chunks.map((c) => c.length).join("+")}`);
        assert.deepEqual(changes, three);
        assert.equal(live.lastEventId, "3");
        live.close();
        assert.equal(await live.closed, undefined);
      }
    }
  });

  it("sends the token and since, then reconnects after the last id with Last-Event-ID", async () => {
    const { client, requests } = fakeServer([
      // Ends (as at token expiry), then breaks mid-event, then stays open.
      (request) => stream(request, [event(change(6)), event(change(7))]),
      (request) => stream(request, [event(change(8)), "id: 9\nevent: updated\ndata: {"], "break"),
      (request) => stream(request, [event(change(9))], "hang"),
    ]);
    const { live, changes, errors, opens } = record(client, { since: 5 });
    await until(() => changes.length === 4, "four changes");
    assert.deepEqual(changes.map((c) => c.seq), [6, 7, 8, 9]);
    assert.equal(opens(), 3);
    // The break is reported, and retried; the normal end is not an error.
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.retrying, true);
    assert.equal(errors[0]?.status, undefined);
    assert.deepEqual(
      requests.map((r) => [r.url, r.headers.get("last-event-id"), r.headers.get("authorization"), r.headers.get("accept")]),
      [
        ["http://api.test:8000/api/alice%20b/events?since=5", null, "Bearer t0ken-1", "text/event-stream"],
        ["http://api.test:8000/api/alice%20b/events", "7", "Bearer t0ken-2", "text/event-stream"],
        ["http://api.test:8000/api/alice%20b/events", "8", "Bearer t0ken-3", "text/event-stream"],
      ],
    );
    live.close();
    assert.equal(await live.closed, undefined);
    assert.ok(requests[2]?.signal.aborted, "close() aborted the open connection");
  });

  it("retries 503 and 429 after Retry-After, and a 401 twice, then stops", async () => {
    const { client, requests } = fakeServer([
      () => problem(503, "the database is unavailable", { "Retry-After": "0" }),
      () => problem(429, "too many streams", { "Retry-After": "1" }),
      () => problem(401, "Token has expired"),
      () => problem(401, "Token has expired"),
      () => problem(401, "Token has expired"),
    ]);
    const { live, errors } = record(client);
    const stopped = await live.closed;
    assert.deepEqual(
      errors.map((e) => [e.status, e.retrying]),
      [[503, true], [429, true], [401, true], [401, true], [401, false]],
    );
    assert.ok((errors[1]?.delay ?? 0) >= 1000, `waits Retry-After: ${errors[1]?.delay}`);
    assert.equal(stopped, errors[4]);
    assert.equal(stopped?.problem?.detail, "Token has expired");
    assert.equal(requests.length, 5);
  });

  it("stops on 403 and on a 200 that is not an event stream", async () => {
    for (const reply of [() => problem(403, "Access denied"), () => Response.json([])]) {
      const { client, requests } = fakeServer([reply]);
      const { live, errors } = record(client);
      const stopped = await live.closed;
      assert.ok(stopped && !stopped.retrying, "stopped with an error");
      assert.deepEqual(errors, [stopped]);
      assert.equal(requests.length, 1);
    }
  });

  it('on 410 reports and stops by default; with gone: "resync" starts again from since=0', async () => {
    const gone = () => problem(410, "the changes after this number are no longer kept");
    {
      const { client, requests } = fakeServer([(request) => stream(request, [event(change(4))]), gone]);
      const { live, errors } = record(client);
      const stopped = await live.closed;
      assert.equal(stopped?.status, 410);
      assert.equal(stopped?.retrying, false);
      assert.deepEqual(errors, [stopped]);
      assert.equal(requests.length, 2);
      assert.equal(requests[1]?.headers.get("last-event-id"), "4");
    }
    {
      const { client, requests } = fakeServer([
        (request) => stream(request, [event(change(4))]),
        gone,
        (request) => stream(request, [event(change(2, "created"))], "hang"),
      ]);
      const resyncs: (string | undefined)[] = [];
      const { live, changes, errors } = record(client, {
        gone: "resync",
        onResync: (p: { detail: string } | undefined) => resyncs.push(p?.detail),
      });
      await until(() => changes.length === 2, "the snapshot after the resync");
      assert.deepEqual(resyncs, ["the changes after this number are no longer kept"]);
      assert.deepEqual(errors, []);
      assert.equal(requests[2]?.url, "http://api.test:8000/api/alice%20b/events?since=0");
      assert.equal(requests[2]?.headers.get("last-event-id"), null);
      live.close();
      await live.closed;
    }
    {
      // A 410 to the resync itself (a server that is wrong): no loop, it stops.
      const { client, requests } = fakeServer([gone, gone]);
      let resyncs = 0;
      const { live } = record(client, { gone: "resync", onResync: () => resyncs++ });
      const stopped = await live.closed;
      assert.equal(stopped?.status, 410);
      assert.equal(resyncs, 1);
      assert.equal(requests.length, 2);
    }
  });

  it("skips events of unknown types and reports data that is not a change", async () => {
    const { client } = fakeServer([
      (request) =>
        stream(
          request,
          [
            "id: 1\nevent: hello\ndata: {}\n\n",
            "id: 2\nevent: updated\ndata: not json\n\n",
            "retry: 5\nunknown: field\n\n",
            event(change(3)),
          ],
          "hang",
        ),
    ]);
    const { live, changes, errors } = record(client);
    await until(() => changes.length === 1, "the valid change");
    assert.deepEqual(changes.map((c) => c.seq), [3]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", /not a change/);
    assert.equal(errors[0]?.retrying, true);
    live.close();
    await live.closed;
  });

  it("stops on its AbortSignal, also while waiting to reconnect", async () => {
    const controller = new AbortController();
    const { client, requests } = fakeServer([() => problem(503, "down", { "Retry-After": "30" })]);
    const { live, errors } = record(client, { signal: controller.signal });
    await until(() => errors.length === 1, "the 503");
    controller.abort();
    assert.equal(await live.closed, undefined);
    assert.equal(requests.length, 1);
    const aborted = subscribe(client, "alice", { signal: AbortSignal.abort(), onChange: () => {} });
    assert.equal(await aborted.closed, undefined);
    assert.equal(requests.length, 1, "an aborted signal connects nowhere");
  });
});

describe("changePages and listAllChanges", () => {
  /**
   * A feed: `snapshot` (its seqs are task versions) as one page, which links to the log after
   * `latest` (the last change when the snapshot was read; `log` was written since), 2 a page.
   */
  function feedServer(snapshot: Change[], latest: number, log: Change[]) {
    const requests: string[] = [];
    const fetch = async (request: Request): Promise<Response> => {
      requests.push(request.url);
      const url = new URL(request.url);
      const since = Number(url.searchParams.get("since") ?? 0);
      if (since === 0) {
        const link = `</api/alice/changes?since=${latest}&limit=2>; rel="next"`;
        return Response.json(snapshot, latest > 0 ? { headers: { Link: link } } : {});
      }
      const page = log.filter((c) => c.seq > since).slice(0, 2);
      const more = log.some((c) => c.seq > (page.at(-1)?.seq ?? since));
      const last = page.at(-1)?.seq;
      return Response.json(page, more && last ? { headers: { Link: `</api/alice/changes?since=${last}&limit=2>; rel="next"` } } : {});
    };
    return { client: createTodoClient({ baseUrl: "http://api.test:8000", token: "t", fetch }), requests };
  }

  it("read a snapshot, then the log after it, and tell where to read on", async () => {
    const { client, requests } = feedServer(
      [change(3, "created"), change(5, "trashed")],
      5,
      [change(6), change(7), change(8)],
    );
    const all = await listAllChanges(client, "alice", { limit: 2 });
    assert.deepEqual(all.data?.map((c) => c.seq), [3, 5, 6, 7, 8]);
    assert.equal(all.since, 8);
    assert.deepEqual(requests, [
      "http://api.test:8000/api/alice/changes?limit=2",
      "http://api.test:8000/api/alice/changes?since=5&limit=2",
      "http://api.test:8000/api/alice/changes?since=7&limit=2",
    ]);
    const pages: number[][] = [];
    for await (const page of changePages(client, "alice", { since: 5, limit: 2 })) pages.push(page.data?.map((c) => c.seq) ?? []);
    assert.deepEqual(pages, [[6, 7], [8]]);
    const after = await listAllChanges(client, "alice", { since: 8 });
    assert.deepEqual(after.data, []);
    assert.equal(after.since, 8, "an empty log page keeps its since");
  });

  it("give since 0 for a user without changes, and the error of a failed page", async () => {
    const { client } = feedServer([], 0, []);
    const none = await listAllChanges(client, "alice");
    assert.deepEqual(none.data, []);
    assert.equal(none.since, 0);
    const failing = createTodoClient({
      baseUrl: "http://api.test:8000",
      fetch: async () => problem(410, "no longer kept"),
    });
    const gone = await listAllChanges(failing, "alice", { since: 1 });
    assert.equal(gone.response.status, 410);
    assert.equal(gone.error?.detail, "no longer kept");
  });
});
