// The change feed and the live event stream of a RUNNING todo-api (contract 1.3), through
// listAllChanges and subscribe(). Needs TODO_API_URL, TODO_API_USER and TODO_API_TOKEN (as
// client.test.ts); without them, or without a server there, every test here fails.
//
// Other test files may write as the same user meanwhile: the checks look at this run's tasks
// by id, and at the whole stream only for what holds whoever writes (change numbers one apart,
// the same changes as the feed).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { after, describe, it, test } from "node:test";
import {
  createTodoClient,
  ifMatch,
  listAllChanges,
  subscribe,
  type Change,
  type ChangeSubscription,
  type SubscribeOptions,
  type SubscriptionError,
  type Task,
  type TodoClient,
} from "../src/index.js";

const NAMES = ["TODO_API_URL", "TODO_API_USER", "TODO_API_TOKEN"] as const;
const missing = NAMES.filter((name) => !process.env[name]);

/** How long any one wait for the server may take. */
const WAIT_MS = 15_000;

if (missing.length > 0) {
  test("the server to test against is configured", () => {
    assert.fail(
      `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set: this test drives a ` +
        "running todo-api. Start one and set TODO_API_URL (e.g. http://127.0.0.1:8000), " +
        "TODO_API_USER and TODO_API_TOKEN (a user and a bearer token for it).",
    );
  });
} else {
  const baseUrl = process.env["TODO_API_URL"] ?? "";
  const user = process.env["TODO_API_USER"] ?? "";
  const token = process.env["TODO_API_TOKEN"] ?? "";

  /** The other client, which writes (another tab, another device). */
  const writer = createTodoClient({ baseUrl, token });
  let tokenCalls = 0;
  /** A client whose token function counts its calls: one per connection. */
  const reading = (url = baseUrl) =>
    createTodoClient({
      baseUrl: url,
      token: async () => {
        tokenCalls += 1;
        return token;
      },
    });
  const reader = reading();

  const prefix = `ts-changes ${new Date().toISOString()} ${randomUUID().slice(0, 8)}`;
  const made = new Set<number>();

  // Writes, each returning the change number it made (a task's `version` is the user's change
  // number of its last write; DELETE answers it as the ETag).
  const path = (id: number) => ({ params: { path: { user_id: user, id } } });
  const create = async (name: string): Promise<Task> => {
    const { data, error, response } = await writer.POST("/api/{user_id}/tasks", {
      params: { path: { user_id: user } },
      body: { title: `${prefix} ${name}` },
    });
    assert.equal(response.status, 201, `POST ${name}: ${JSON.stringify(error)}`);
    assert.ok(data);
    made.add(data.id);
    return data;
  };
  const rename = async (task: Task, title: string): Promise<Task> => {
    const { data, error, response } = await writer.PUT("/api/{user_id}/tasks/{id}", {
      ...path(task.id),
      body: { title: `${prefix} ${title}` },
    });
    assert.equal(response.status, 200, `PUT ${task.id}: ${JSON.stringify(error)}`);
    assert.ok(data);
    return data;
  };
  const complete = async (task: Task): Promise<Task> => {
    const { data, error, response } = await writer.PATCH("/api/{user_id}/tasks/{id}/complete", {
      ...path(task.id),
      body: { completed: true },
    });
    assert.equal(response.status, 200, `PATCH ${task.id}: ${JSON.stringify(error)}`);
    assert.ok(data);
    return data;
  };
  /** Moves the task to the trash; its version there (the DELETE's ETag). */
  const trash = async (id: number): Promise<number> => {
    const { response } = await writer.DELETE("/api/{user_id}/tasks/{id}", path(id));
    assert.equal(response.status, 204, `DELETE ${id}`);
    const etag = response.headers.get("etag") ?? "";
    assert.match(etag, /^"\d+"$/, "the DELETE answers the trashed version as its ETag");
    return Number(etag.slice(1, -1));
  };
  const restore = async (id: number, version: number): Promise<Task> => {
    const { data, error, response } = await writer.POST("/api/{user_id}/tasks/{id}/restore", {
      ...path(id),
      headers: ifMatch(`"${version}"`),
    });
    assert.equal(response.status, 200, `restore ${id}: ${JSON.stringify(error)}`);
    assert.ok(data);
    return data;
  };
  const purge = async (id: number) => {
    const { response } = await writer.DELETE("/api/{user_id}/trash/{id}", path(id));
    assert.equal(response.status, 204, `purge ${id}`);
    made.delete(id);
  };

  /** Every subscription made, closed after the tests whatever happened (an open one keeps Node running). */
  const subscriptions = new Set<ChangeSubscription>();

  after(async () => {
    for (const live of subscriptions) live.close();
    for (const id of made) {
      await writer.DELETE("/api/{user_id}/tasks/{id}", path(id)).catch(() => undefined);
      await writer.DELETE("/api/{user_id}/trash/{id}", path(id)).catch(() => undefined);
    }
  });

  /** A subscription that records what it gets; `wait` waits for a condition on it. */
  function watch(client: TodoClient, options: Partial<SubscribeOptions> = {}) {
    const changes: Change[] = [];
    const errors: SubscriptionError[] = [];
    let opens = 0;
    const live: ChangeSubscription = subscribe(client, user, {
      retryDelay: 50,
      maxRetryDelay: 200,
      ...options,
      onChange: (change) => changes.push(change),
      onError: (error) => errors.push(error),
      onOpen: () => {
        opens += 1;
      },
    });
    subscriptions.add(live);
    const wait = async (what: string, done: () => boolean) => {
      const end = Date.now() + WAIT_MS;
      while (!done()) {
        if (Date.now() > end) {
          live.close();
          assert.fail(
            `timed out after ${WAIT_MS} ms waiting for ${what}; connections: ${opens}; ` +
              `errors: ${errors.map((e) => e.message).join(" | ") || "none"}; ` +
              `changes: ${changes.map((c) => `${c.seq} ${c.type}`).join(", ") || "none"}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    return { live, changes, errors, opens: () => opens, wait };
  }

  const ofTask = (id: number) => (c: Change) => (c.type === "purged" ? c.task_id : c.task?.id) === id;

  /** Fails unless the seqs go up one at a time: the stream skipped nothing and repeated nothing. */
  const consecutive = (changes: Change[], what: string) => {
    for (let i = 1; i < changes.length; i++) {
      assert.equal(
        changes[i]?.seq,
        (changes[i - 1]?.seq ?? 0) + 1,
        `${what}: change numbers must go up one at a time: ${changes.map((c) => c.seq).join(", ")}`,
      );
    }
  };

  /**
   * A TCP proxy to the server that can drop its connections and refuse new ones, as a network
   * does; it keeps the head of each request it forwarded.
   */
  async function flakyProxy() {
    const target = new URL(baseUrl);
    assert.equal(target.protocol, "http:", "the proxy speaks plain HTTP: TODO_API_URL must be http://");
    const sockets = new Set<net.Socket>();
    const heads: string[] = [];
    let down = false;
    const server = net.createServer((inbound) => {
      if (down) {
        inbound.destroy();
        return;
      }
      const outbound = net.connect(Number(target.port || 80), target.hostname);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(inbound);
        sockets.delete(outbound);
      };
      sockets.add(inbound).add(outbound);
      inbound.on("data", (chunk: Buffer) => {
        const text = chunk.toString("latin1");
        if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) heads.push(text.slice(0, text.indexOf("\r\n\r\n")));
      });
      inbound.pipe(outbound).on("error", end);
      outbound.pipe(inbound).on("error", end);
      for (const socket of [inbound, outbound]) socket.on("error", end).on("close", end);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address() as net.AddressInfo;
    return {
      url: `http://127.0.0.1:${address.port}`,
      heads,
      /** Cuts every connection, and refuses new ones until `up()`. */
      drop() {
        down = true;
        for (const socket of sockets) socket.destroy();
      },
      up() {
        down = false;
      },
      close: () => {
        for (const socket of sockets) socket.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  describe("the change feed and the live stream", { timeout: 120_000 }, () => {
    it("the server answers", async () => {
      const health = await fetch(new URL("/health", baseUrl)).catch((err: Error) =>
        assert.fail(`cannot reach TODO_API_URL=${baseUrl}: ${err.cause instanceof Error ? err.cause.message : err.message}`),
      );
      assert.equal(health.status, 200);
    });

    it("subscribe() gets another client's writes live, in order, with their change numbers", async () => {
      const s = watch(reader);
      await s.wait("the stream to open", () => s.opens() === 1);

      const created = await create("live");
      const completed = await complete(created);
      const trashed = await trash(created.id);
      const restored = await restore(created.id, trashed);
      const trashedAgain = await trash(created.id);
      await purge(created.id);
      await s.wait("the purge", () => s.changes.some((c) => ofTask(created.id)(c) && c.type === "purged"));

      const mine = s.changes.filter(ofTask(created.id));
      assert.deepEqual(
        mine.map((c) => c.type),
        ["created", "completed", "trashed", "restored", "trashed", "purged"],
      );
      assert.deepEqual(
        mine.slice(0, 5).map((c) => c.seq),
        [created.version, completed.version, trashed, restored.version, trashedAgain],
        "each change's seq is the version its write answered",
      );
      assert.ok((mine[5]?.seq ?? 0) > trashedAgain, "the purge comes after the second trash");
      assert.deepEqual(mine[0]?.task, created, "created carries the task as the POST answered it");
      assert.deepEqual(mine[1]?.task, completed, "completed carries the task as the PATCH answered it");
      assert.deepEqual(mine[3]?.task, restored, "restored carries the task as the restore answered it");
      assert.equal(typeof mine[2]?.task?.trashed_at, "string", "trashed carries trashed_at");
      assert.equal(mine[5]?.task, undefined, "purged carries no task");
      for (const c of mine) assert.ok(!Number.isNaN(Date.parse(c.at)), `at is a time: ${c.at}`);
      consecutive(s.changes, "the live stream");
      assert.equal(s.live.lastEventId, String(s.changes.at(-1)?.seq));
      assert.deepEqual(s.errors, []);

      s.live.close();
      assert.equal(await s.live.closed, undefined, "close() ends it without an error");
    });

    it("a snapshot, then live changes resumed after the last id, match the change feed exactly", async () => {
      // The way a frontend keeps a copy: the feed's snapshot, then the stream from its `since`.
      const snapshot = await listAllChanges(reader, user);
      assert.equal(snapshot.response.status, 200, JSON.stringify(snapshot.error));
      assert.ok(snapshot.data, "the snapshot is read");
      const start = snapshot.since;

      const proxy = await flakyProxy();
      try {
        const calls = tokenCalls;
        const s = watch(reading(proxy.url), { since: start });
        await s.wait("the stream to open", () => s.opens() === 1);
        const task = await create("resumed");
        await s.wait("the created change", () => s.changes.some(ofTask(task.id)));

        // The connection drops and cannot come back while the other client writes.
        proxy.drop();
        const renamed = await rename(task, "resumed, renamed");
        const completed = await complete(renamed);
        const trashed = await trash(task.id);
        await s.wait("the drop to be noticed", () => s.errors.length > 0);
        assert.equal(s.changes.filter(ofTask(task.id)).length, 1, "nothing came while cut off");
        assert.ok(s.errors.every((e) => e.retrying && e.status === undefined), "network errors are retried");
        const lastBefore = s.live.lastEventId;

        // Back: it reconnects with Last-Event-ID and gets what it missed, then live changes.
        proxy.up();
        await s.wait("the missed changes", () => s.changes.filter(ofTask(task.id)).length === 4);
        const restored = await restore(task.id, trashed);
        await s.wait("the live restore", () => s.changes.filter(ofTask(task.id)).length === 5);
        const mine = s.changes.filter(ofTask(task.id));
        assert.deepEqual(mine.map((c) => c.type), ["created", "updated", "completed", "trashed", "restored"]);
        assert.deepEqual(
          mine.map((c) => c.seq),
          [task.version, renamed.version, completed.version, trashed, restored.version],
        );
        assert.ok(s.opens() >= 2, "it reconnected");
        const resumed = proxy.heads.filter((head) => /^GET \/api\/[^/]+\/events/.test(head));
        assert.ok(resumed.length >= 2, `event-stream requests through the proxy: ${resumed.length}`);
        assert.match(resumed[0] ?? "", new RegExp(`^GET /api/[^/]+/events\\?since=${start} `), "the first asks from since");
        const reconnect = resumed.at(-1) ?? "";
        assert.match(reconnect, new RegExp(`\r\nlast-event-id: ${lastBefore}(\r\n|$)`, "i"), "the reconnection resumes after the last id");
        assert.doesNotMatch(reconnect, /[?&]since=/, "and sends no since (Last-Event-ID wins)");
        assert.match(reconnect, new RegExp(`\r\nauthorization: Bearer ${token}(\r\n|$)`, "i"), "with the bearer token");
        assert.ok(tokenCalls - calls >= s.opens(), "the token function is called before every connection");
        assert.equal(s.changes[0]?.seq, start + 1, "the stream starts right after the snapshot");
        consecutive(s.changes, "the resumed stream");

        // Stopped; more writes; subscribing again from the last id gets exactly those.
        s.live.close();
        assert.equal(await s.live.closed, undefined);
        const last = Number(s.live.lastEventId);
        const trashedAgain = await trash(task.id);
        await purge(task.id);
        const again = watch(reader, { since: last });
        await again.wait("the changes made while stopped", () =>
          again.changes.some((c) => ofTask(task.id)(c) && c.type === "purged"),
        );
        const missed = again.changes.filter(ofTask(task.id));
        assert.deepEqual(missed.map((c) => c.type), ["trashed", "purged"]);
        assert.equal(missed[0]?.seq, trashedAgain);
        assert.equal(again.changes[0]?.seq, last + 1, "it starts right after the last id");
        consecutive(again.changes, "the second subscription");
        again.live.close();
        await again.live.closed;

        // The feed from the same start, followed across pages of 2, has the very same changes.
        const streamed = [...s.changes, ...again.changes];
        const feed = await listAllChanges(reader, user, { since: start, limit: 2 });
        assert.equal(feed.response.status, 200, JSON.stringify(feed.error));
        assert.ok(feed.data);
        const upTo = streamed.at(-1)?.seq ?? 0;
        assert.deepEqual(feed.data.filter((c) => c.seq <= upTo), streamed, "the feed and the stream agree");
        assert.ok(feed.since >= upTo, `the feed reads on from ${feed.since}`);
        assert.deepEqual(s.errors.filter((e) => !e.retrying), []);
      } finally {
        await proxy.close();
      }
    });

    it("since=0 streams a snapshot of the current tasks first, as the feed lists it", async () => {
      const task = await create("snapshot");
      const feed = await listAllChanges(reader, user, { since: 0 });
      assert.ok(feed.data, JSON.stringify(feed.error));
      const listed = feed.data.find(ofTask(task.id));
      assert.deepEqual(listed, { seq: task.version, type: "created", at: listed?.at, task });

      const s = watch(reader, { since: 0 });
      await s.wait("the task in the snapshot", () => s.changes.some(ofTask(task.id)));
      assert.deepEqual(s.changes.find(ofTask(task.id)), listed);
      const renamed = await rename(task, "snapshot, renamed");
      await s.wait("the live update", () => s.changes.filter(ofTask(task.id)).length === 2);
      assert.deepEqual(s.changes.filter(ofTask(task.id)).at(-1), {
        seq: renamed.version,
        type: "updated",
        at: s.changes.filter(ofTask(task.id)).at(-1)?.at,
        task: renamed,
      });
      s.live.close();
      await s.live.closed;
      await trash(task.id);
      await purge(task.id);
    });

    it("the feed and subscribe() refuse a since ahead of the user's last change (422)", async () => {
      const feed = await listAllChanges(reader, user);
      assert.ok(feed.data, JSON.stringify(feed.error));
      const { since } = feed;
      const ahead = await reader.GET("/api/{user_id}/changes", {
        params: { path: { user_id: user }, query: { since: since + 1_000_000 } },
      });
      assert.equal(ahead.response.status, 422, "a since ahead of the user's last change");
      const s = watch(reader, { since: since + 1_000_000 });
      const stopped = await s.live.closed;
      assert.equal(stopped?.status, 422, "subscribe() stops on it");
      assert.equal(stopped?.retrying, false);
      assert.deepEqual(s.errors, [stopped]);
    });
  });
}
