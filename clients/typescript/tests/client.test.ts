// Drives a RUNNING todo-api through the generated client. Needs:
//   TODO_API_URL          the server, e.g. http://127.0.0.1:8000
//   TODO_API_USER         a user id, and TODO_API_TOKEN a valid bearer token for it
//   TODO_API_OTHER_USER   a second user id, and TODO_API_OTHER_TOKEN a token for it
// Without them every test here fails: a client test that did not reach a server passed nothing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it, test } from "node:test";
import {
  createTodoClient,
  fieldErrors,
  idempotencyKey,
  ifMatch,
  listAllTasks,
  nextLink,
  readProblem,
  taskPages,
  type NewTask,
  type Problem,
  type Task,
  type TaskListQuery,
  type TodoClient,
} from "../src/index.js";

const NAMES = [
  "TODO_API_URL",
  "TODO_API_USER",
  "TODO_API_TOKEN",
  "TODO_API_OTHER_USER",
  "TODO_API_OTHER_TOKEN",
] as const;
const missing = NAMES.filter((name) => !process.env[name]);

if (missing.length > 0) {
  test("the server to test against is configured", () => {
    assert.fail(
      `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set: this test drives a ` +
        "running todo-api. Start one and set TODO_API_URL (e.g. http://127.0.0.1:8000), " +
        "TODO_API_USER/TODO_API_TOKEN and TODO_API_OTHER_USER/TODO_API_OTHER_TOKEN " +
        "(two users and a bearer token for each, e.g. from `todo-api token --sub USER`).",
    );
  });
} else {
  const env = (name: (typeof NAMES)[number]): string => process.env[name] ?? "";
  const baseUrl = env("TODO_API_URL");
  const user = env("TODO_API_USER");
  const otherUser = env("TODO_API_OTHER_USER");
  assert.notEqual(user, otherUser, "TODO_API_USER and TODO_API_OTHER_USER must differ");

  let tokenCalls = 0;
  // An async token function, as a frontend passes `authClient.token()`.
  const client = createTodoClient({
    baseUrl,
    token: async () => {
      tokenCalls += 1;
      return env("TODO_API_TOKEN");
    },
  });
  const other = createTodoClient({ baseUrl, token: env("TODO_API_OTHER_TOKEN") });
  const anonymous = createTodoClient({ baseUrl });

  // Unique per run, so reruns against the same database see only their own tasks.
  const prefix = `ts-client ${new Date().toISOString()} ${randomUUID().slice(0, 8)}`;
  const mine = (tasks: Task[]) => tasks.filter((t) => t.title.startsWith(prefix));
  const titles = (tasks: Task[]) => tasks.map((t) => t.title.slice(prefix.length + 1));

  /** Compares by Unicode code point, as the contract says titles are sorted. */
  const byCodePoint = (a: string, b: string): number => {
    const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
    const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = (x[i] ?? 0) - (y[i] ?? 0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  };

  /** An RFC 3339 UTC time in microseconds, to compare times finer than `Date` can. */
  const micros = (time: string): bigint => {
    const m = /^(.+?)(?:\.(\d+))?Z$/.exec(time);
    assert.ok(m?.[1], `${time} is an RFC 3339 UTC time`);
    const ms = Date.parse(`${m[1]}Z`);
    assert.ok(!Number.isNaN(ms), `${time} is an RFC 3339 UTC time`);
    return BigInt(ms) * 1000n + BigInt((m[2] ?? "").padEnd(6, "0").slice(0, 6));
  };
  const later = (now: string, before: string) =>
    assert.ok(micros(now) > micros(before), `updated_at moved: ${before} -> ${now}`);

  /** The problem of a failed call, checked against its status code. */
  const problemOf = (
    result: { error?: unknown; response: Response },
    status: number,
  ): Problem => {
    assert.equal(
      result.response.status,
      status,
      `expected HTTP ${status}, got ${result.response.status}: ${JSON.stringify(result.error)}`,
    );
    assert.match(result.response.headers.get("content-type") ?? "", /^application\/problem\+json/);
    const problem = readProblem(result.error);
    assert.ok(problem, `the ${status} body is not an RFC 9457 problem: ${JSON.stringify(result.error)}`);
    assert.equal(problem.status, status, "the problem repeats the status code");
    assert.ok(problem.detail.trim().length > 0, "the problem has a detail to show");
    return problem;
  };

  const list = async (query: TaskListQuery, as: TodoClient = client, id = user) => {
    const { data, error, response } = await as.GET("/api/{user_id}/tasks", {
      params: { path: { user_id: id }, query },
    });
    assert.equal(response.status, 200, `GET tasks ${JSON.stringify(query)}: ${JSON.stringify(error)}`);
    assert.ok(Array.isArray(data), "the task list is a bare JSON array");
    return data;
  };

  const create = async (title: string, description?: string | null): Promise<Task> => {
    const { data, error, response } = await client.POST("/api/{user_id}/tasks", {
      params: { path: { user_id: user } },
      body: description === undefined ? { title } : { title, description },
    });
    assert.equal(response.status, 201, `POST ${title}: ${JSON.stringify(error)}`);
    assert.ok(data);
    assert.equal(
      new URL(response.headers.get("location") ?? "", baseUrl).pathname,
      `/api/${encodeURIComponent(user)}/tasks/${data.id}`,
      "Location points at the new task",
    );
    return data;
  };

  /**
   * Deletes a task for good, wherever it is: DELETE moves it to the trash (contract 1.2), then
   * the purge removes it from there. Either step may find nothing (404).
   */
  const discard = async (id: number) => {
    const path = { user_id: user, id };
    const trashed = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path } });
    assert.ok([204, 404].includes(trashed.response.status), `cleanup DELETE ${id}: ${trashed.response.status}`);
    const purged = await client.DELETE("/api/{user_id}/trash/{id}", { params: { path } });
    assert.ok([204, 404].includes(purged.response.status), `cleanup purge ${id}: ${purged.response.status}`);
  };

  /** The tasks this run made, by their short names. */
  const made: Record<string, Task> = {};
  const task = (name: string): Task => {
    const t = made[name];
    assert.ok(t, `task ${name} was not created (an earlier step failed)`);
    return t;
  };

  describe("todo-api through the generated client", () => {
    after(async () => {
      // Leave the database as it was: delete for good what this run made (trashed or not).
      for (const t of Object.values(made)) {
        await discard(t.id);
      }
    });

    it("answers /health and /ready", async () => {
      const health = await anonymous.GET("/health");
      assert.equal(health.response.status, 200);
      assert.deepEqual(health.data, { status: "healthy" });
      const ready = await anonymous.GET("/ready");
      assert.equal(ready.response.status, 200);
      assert.deepEqual(ready.data, { status: "ready" });
    });

    it("creates tasks", async () => {
      // Created in this order so that creation order differs from title order.
      made["bravo"] = await create(`${prefix} bravo`, "second letter");
      made["alpha"] = await create(`  ${prefix} alpha  `); // trimmed by the server
      made["charlie"] = await create(`${prefix} charlie`, null);

      const alpha = task("alpha");
      assert.equal(alpha.title, `${prefix} alpha`, "the title is trimmed");
      assert.equal(alpha.description, null, "no description means null");
      assert.equal(task("bravo").description, "second letter");
      assert.equal(task("charlie").description, null);
      for (const t of Object.values(made)) {
        assert.equal(t.user_id, user);
        assert.equal(t.completed, false, "a new task is not completed");
        assert.equal(t.updated_at, t.created_at, "updated_at equals created_at until a change");
        assert.ok(Number.isInteger(t.id));
        micros(t.created_at); // an RFC 3339 UTC time
      }
      assert.equal(new Set(Object.values(made).map((t) => t.id)).size, 3, "ids are distinct");
    });

    it("gets a task", async () => {
      const bravo = task("bravo");
      const { data, response } = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: bravo.id } },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(data, bravo);
    });

    it("lists newest first by default", async () => {
      assert.deepEqual(titles(mine(await list({}))), ["charlie", "alpha", "bravo"]);
    });

    it("sorts by title, ascending and descending", async () => {
      const asc = await list({ sort: "title", order: "asc" });
      assert.deepEqual(titles(mine(asc)), ["alpha", "bravo", "charlie"]);
      for (let i = 1; i < asc.length; i++) {
        const [a, b] = [asc[i - 1], asc[i]];
        assert.ok(a && b);
        assert.ok(
          byCodePoint(a.title, b.title) <= 0,
          `sort=title&order=asc puts ${JSON.stringify(a.title)} before ${JSON.stringify(b.title)}`,
        );
      }
      const desc = await list({ sort: "title", order: "desc" });
      assert.deepEqual(titles(mine(desc)), ["charlie", "bravo", "alpha"]);
      // The default order for titles is ascending.
      assert.deepEqual(titles(mine(await list({ sort: "title" }))), ["alpha", "bravo", "charlie"]);
    });

    it("sets completion with a body and filters by status", async () => {
      const alpha = task("alpha");
      const { data, response } = await client.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path: { user_id: user, id: alpha.id } },
        body: { completed: true },
      });
      assert.equal(response.status, 200);
      assert.equal(data?.completed, true);
      // Setting (not toggling): the same body again leaves it completed.
      const again = await client.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path: { user_id: user, id: alpha.id } },
        body: { completed: true },
      });
      assert.equal(again.data?.completed, true, "{completed: true} sets, it does not toggle");

      const completed = await list({ status: "completed" });
      assert.ok(completed.every((t) => t.completed), "status=completed returns only completed tasks");
      assert.deepEqual(titles(mine(completed)), ["alpha"]);

      const pending = await list({ status: "pending", sort: "title", order: "asc" });
      assert.ok(pending.every((t) => !t.completed), "status=pending returns only pending tasks");
      assert.deepEqual(titles(mine(pending)), ["bravo", "charlie"]);

      const all = await list({ status: "all", sort: "title", order: "asc" });
      assert.deepEqual(titles(mine(all)), ["alpha", "bravo", "charlie"]);
    });

    it("toggles completion without a body, both ways", async () => {
      const charlie = task("charlie");
      const path = { user_id: user, id: charlie.id };
      const on = await client.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path } });
      assert.equal(on.response.status, 200, JSON.stringify(on.error));
      assert.equal(on.data?.completed, true, "toggled from pending to completed");
      later(on.data?.updated_at ?? "", charlie.updated_at);
      const off = await client.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path } });
      assert.equal(off.data?.completed, false, "toggled back from completed to pending");
      const got = await client.GET("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.equal(got.data?.completed, false);
    });

    it("updates a task partially with PUT", async () => {
      const bravo = task("bravo");
      const path = { user_id: user, id: bravo.id };
      const renamed = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        body: { title: `${prefix} bravo renamed` },
      });
      assert.equal(renamed.response.status, 200, JSON.stringify(renamed.error));
      assert.ok(renamed.data);
      assert.equal(renamed.data.title, `${prefix} bravo renamed`);
      assert.equal(renamed.data.description, "second letter", "an absent field keeps its value");
      assert.equal(renamed.data.completed, false);
      assert.equal(renamed.data.created_at, bravo.created_at);
      later(renamed.data.updated_at, bravo.updated_at);

      const cleared = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        body: { description: null, completed: true },
      });
      assert.equal(cleared.response.status, 200, JSON.stringify(cleared.error));
      assert.equal(cleared.data?.description, null, "description: null clears it");
      assert.equal(cleared.data?.completed, true);
      assert.equal(cleared.data?.title, `${prefix} bravo renamed`);

      const got = await client.GET("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.deepEqual(got.data, cleared.data, "the update is stored");
    });

    it("reads the problem of a 422", async () => {
      const blank = await client.POST("/api/{user_id}/tasks", {
        params: { path: { user_id: user } },
        body: { title: "   " },
      });
      const problem = problemOf(blank, 422);
      assert.equal(blank.data, undefined);
      assert.ok(problem.errors?.some((e) => e.field === "title"), JSON.stringify(problem));
      assert.ok(fieldErrors(blank.error)["title"]?.[0], "fieldErrors() has the title's message");

      const tooLong = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: task("alpha").id } },
        body: { title: "x".repeat(201) },
      });
      assert.deepEqual(Object.keys(fieldErrors(problemOf(tooLong, 422))), ["title"]);

      const empty = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: task("alpha").id } },
        body: {},
      });
      assert.ok(problemOf(empty, 422).errors?.length, "an empty update lists a problem");
    });

    it("keeps one user's tasks from another", async () => {
      const alpha = task("alpha");
      const theirs = await other.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: otherUser, id: alpha.id } },
      });
      problemOf(theirs, 404);
      const del = await other.DELETE("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: otherUser, id: alpha.id } },
      });
      problemOf(del, 404);
      const put = await other.PUT("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: otherUser, id: alpha.id } },
        body: { title: "stolen" },
      });
      problemOf(put, 404);
      const patch = await other.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path: { user_id: otherUser, id: alpha.id } },
      });
      problemOf(patch, 404);
      assert.deepEqual(mine(await list({}, other, otherUser)), [], "the other user lists none of them");

      const still = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: alpha.id } },
      });
      assert.equal(still.data?.title, alpha.title, "the other user changed nothing");
      assert.equal(still.data?.completed, true);
    });

    it("answers 403 for another user's path", async () => {
      const wrongList = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: otherUser } },
      });
      problemOf(wrongList, 403);
      const wrongGet = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: otherUser, id: task("alpha").id } },
      });
      problemOf(wrongGet, 403);
    });

    it("answers 401 without a token", async () => {
      const result = await anonymous.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user } },
      });
      problemOf(result, 401);
      assert.match(result.response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
    });

    it("deletes a task, then answers 404 with a problem", async () => {
      const charlie = task("charlie");
      const path = { user_id: user, id: charlie.id };
      const del = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.equal(del.response.status, 204, JSON.stringify(del.error));
      assert.equal(del.data, undefined);

      const gone = await client.GET("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.equal(gone.data, undefined);
      assert.match(problemOf(gone, 404).detail, /\S/);
      problemOf(await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path } }), 404);
      assert.deepEqual(
        titles(mine(await list({ sort: "title" }))),
        ["alpha", "bravo renamed"],
        "the deleted task is no longer listed",
      );
    });

    it("calls the token function before every request", async () => {
      tokenCalls = 0;
      await list({});
      await list({ status: "pending" });
      assert.equal(tokenCalls, 2, "one call of the token function per request");

      const noToken = createTodoClient({ baseUrl, token: async () => undefined });
      const result = await noToken.GET("/api/{user_id}/tasks", { params: { path: { user_id: user } } });
      problemOf(result, 401);
    });
  });

  describe("contract 1.1: priority, tags, due, filters, sort and paging", () => {
    // A tag only this run's tasks carry, so every listing below sees exactly them.
    const runTag = `run-${randomUUID().slice(0, 8)}`;
    const made11: Record<string, Task> = {};
    const t = (name: string): Task => {
      const found = made11[name];
      assert.ok(found, `task ${name} was not created (an earlier step failed)`);
      return found;
    };
    const names = (tasks: Task[]) =>
      tasks.map((task) => {
        const name = Object.keys(made11).find((key) => made11[key]?.id === task.id);
        assert.ok(name, `task ${task.id} (${task.title}) is not one of this run's`);
        return name;
      });
    const ours = (query: TaskListQuery = {}) =>
      list({ ...query, tag: [runTag, ...(query.tag ?? [])] });

    after(async () => {
      for (const task of Object.values(made11)) {
        await discard(task.id);
      }
    });

    it("creates tasks with priority, tags and due dates (all day, wall clock in a zone, instant)", async () => {
      const make = async (name: string, body: Omit<NewTask, "title">): Promise<Task> => {
        const { data, error, response } = await client.POST("/api/{user_id}/tasks", {
          params: { path: { user_id: user } },
          body: { title: `${prefix} ${name}`, ...body },
        });
        assert.equal(response.status, 201, `POST ${name}: ${JSON.stringify(error)}`);
        assert.ok(data);
        made11[name] = data;
        return data;
      };
      const alpha = await make("alpha", {
        priority: "high",
        tags: [runTag, "  Home "],
        due: { date: "2031-03-10" },
      });
      // A wall-clock time in Berlin (CET in March 2031: UTC+1).
      const bravo = await make("bravo", {
        priority: "medium",
        tags: [runTag],
        due: { datetime: "2031-03-10T09:30", time_zone: "Europe/Berlin" },
      });
      // 02:30 on 9 March 2031 does not exist in New York (clocks jump 02:00 -> 03:00): RFC 5545
      // moves it forward by the gap, to 03:30 EDT (UTC-4).
      const charlie = await make("charlie", {
        priority: "high",
        tags: ["errands", runTag, "HOME"],
        due: { datetime: "2031-03-09T02:30:00", time_zone: "America/New_York" },
      });
      const delta = await make("delta", { priority: "low", tags: [runTag] });
      const echo = await make("echo", { tags: [runTag, "work"], due: { date: "2031-03-11" } });
      // An instant without a zone: kept as UTC wall-clock time.
      const foxtrot = await make("foxtrot", {
        priority: "medium",
        tags: [runTag],
        due: { datetime: "2031-03-10T13:00:00+01:00" },
      });
      const golf = await make("golf", { priority: "high", tags: [runTag, "home"], due: null });

      assert.equal(alpha.priority, "high");
      assert.equal(echo.priority, "none", "priority defaults to none");
      assert.deepEqual(alpha.tags, ["home", runTag].sort(), "tags are trimmed, lower-cased and sorted");
      assert.deepEqual(charlie.tags, ["errands", "home", runTag].sort());
      assert.deepEqual(alpha.due, { date: "2031-03-10", datetime: null, time_zone: null, at: null });
      assert.deepEqual(bravo.due, {
        date: "2031-03-10",
        datetime: "2031-03-10T09:30:00",
        time_zone: "Europe/Berlin",
        at: "2031-03-10T08:30:00.000000Z",
      });
      assert.deepEqual(charlie.due, {
        date: "2031-03-09",
        datetime: "2031-03-09T03:30:00",
        time_zone: "America/New_York",
        at: "2031-03-09T07:30:00.000000Z",
      });
      assert.deepEqual(foxtrot.due, {
        date: "2031-03-10",
        datetime: "2031-03-10T12:00:00",
        time_zone: "UTC",
        at: "2031-03-10T12:00:00.000000Z",
      });
      assert.equal(delta.due, null, "no due means null");
      assert.equal(golf.due, null);

      const got = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: bravo.id } },
      });
      assert.deepEqual(got.data, bravo, "the task reads back as created");
    });

    it("filters by tag (all of them, normalised) and by priority (any of them)", async () => {
      assert.deepEqual(names(await ours({ tag: ["HOME"], sort: "title" })), ["alpha", "charlie", "golf"]);
      assert.deepEqual(names(await ours({ tag: ["home", "errands"] })), ["charlie"]);
      assert.deepEqual(
        names(await ours({ priority: ["high", "medium"], sort: "title" })),
        ["alpha", "bravo", "charlie", "foxtrot", "golf"],
      );
      assert.deepEqual(names(await ours({ priority: ["none"] })), ["echo"]);
      assert.deepEqual(names(await ours({ tag: ["home"], priority: ["medium"] })), []);
      assert.deepEqual(names(await ours({ due: "none", sort: "title" })), ["delta", "golf"]);
      assert.deepEqual(
        names(await ours({ due_from: "2031-03-10", due_to: "2031-03-11", sort: "title" })),
        ["alpha", "bravo", "foxtrot"],
      );
      const search = `${prefix.slice(-8)} CHARLIE`; // the run's id and the name, in upper case
      assert.deepEqual(names(await ours({ search })), ["charlie"]);
    });

    it("sorts by several keys", async () => {
      // Priority high first; within one, due soonest first (by local date, all day before
      // timed, then by instant), tasks without a due last.
      assert.deepEqual(names(await ours({ sort: "priority,due" })), [
        "charlie", "alpha", "golf", "bravo", "foxtrot", "delta", "echo",
      ]);
      assert.deepEqual(names(await ours({ sort: "due,title" })), [
        "charlie", "alpha", "bravo", "foxtrot", "echo", "delta", "golf",
      ]);
      // Reversed, tasks without a due still come last.
      assert.deepEqual(names(await ours({ sort: "due:desc,title" })), [
        "echo", "foxtrot", "bravo", "alpha", "charlie", "delta", "golf",
      ]);
      assert.deepEqual(names(await ours({ sort: "priority:asc,title:desc" })), [
        "echo", "delta", "foxtrot", "bravo", "golf", "charlie", "alpha",
      ]);
    });

    it("follows Link across pages with listAllTasks and taskPages", async () => {
      const query: TaskListQuery = { tag: [runTag], sort: "priority,due", limit: 2 };
      const expected = names(await ours({ sort: "priority,due" }));
      assert.equal(expected.length, 7);

      const pages: string[][] = [];
      for await (const page of taskPages(client, user, query)) {
        assert.equal(page.response.status, 200, JSON.stringify(page.error));
        assert.ok(page.data);
        pages.push(names(page.data));
        const link = page.response.headers.get("link");
        if (pages.length < 4) {
          assert.match(
            link ?? "",
            new RegExp(`^</api/${encodeURIComponent(user)}/tasks\\?[^>]*cursor=[^>]*>; rel="next"$`),
            "a path-absolute next link while tasks follow",
          );
        } else {
          assert.equal(link, null, "no Link on the last page");
        }
      }
      assert.deepEqual(pages.map((page) => page.length), [2, 2, 2, 1]);
      assert.deepEqual(pages.flat(), expected, "every task once, in the sorted order");

      const all = await listAllTasks(client, user, query);
      assert.equal(all.response.status, 200, JSON.stringify(all.error));
      assert.ok(all.data);
      const ids = all.data.map((task) => task.id);
      assert.equal(new Set(ids).size, ids.length, "no task twice");
      assert.deepEqual(names(all.data), expected, "every task, in order");
      assert.equal(nextLink(all.response), undefined, "the result's response is the last page's");

      // Offset pages carry a Link too, and the helper follows it the same way.
      const byOffset = await listAllTasks(client, user, { tag: [runTag], sort: "title", limit: 3, offset: 1 });
      assert.deepEqual(names(byOffset.data ?? []), ["bravo", "charlie", "delta", "echo", "foxtrot", "golf"]);

      // A failing page ends the walk with its problem (a limit above 500 is a 422).
      const refused = await listAllTasks(client, user, { tag: [runTag], limit: 501 });
      assert.equal(refused.data, undefined);
      assert.equal(problemOf(refused, 422).status, 422);
    });

    it("counts every match in X-Total-Count with include_total=true", async () => {
      const { data, error, response } = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag], limit: 2, include_total: true } },
      });
      assert.equal(response.status, 200, JSON.stringify(error));
      assert.equal(data?.length, 2);
      assert.equal(response.headers.get("x-total-count"), "7", "the total ignores paging");
      assert.ok(nextLink(response), "more pages follow");

      const filtered = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag, "home"], include_total: true } },
      });
      assert.equal(filtered.response.headers.get("x-total-count"), "3");
      const without = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag] } },
      });
      assert.equal(without.response.headers.get("x-total-count"), null, "only when asked for");
    });

    it("refuses a cursor with other filters than its own", async () => {
      const first = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag], sort: "title", limit: 2 } },
      });
      const next = nextLink(first.response);
      assert.ok(next);
      const cursor = new URL(next, baseUrl).searchParams.get("cursor");
      assert.ok(cursor, `the next link carries a cursor: ${next}`);
      const same = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag], sort: "title", limit: 2, cursor } },
      });
      assert.deepEqual(names(same.data ?? []), ["charlie", "delta"], "the cursor resumes after bravo");
      const other = await client.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: [runTag], sort: "due", limit: 2, cursor } },
      });
      assert.ok(fieldErrors(problemOf(other, 422))["cursor"], JSON.stringify(other.error));
    });

    it("updates priority, tags and due, and clears them", async () => {
      const path = { user_id: user, id: t("delta").id };
      const changed = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        body: { priority: "medium", tags: [runTag, "Later"], due: { date: "2031-04-01" } },
      });
      assert.equal(changed.response.status, 200, JSON.stringify(changed.error));
      assert.equal(changed.data?.priority, "medium");
      assert.deepEqual(changed.data?.tags, ["later", runTag].sort());
      assert.equal(changed.data?.due?.date, "2031-04-01");

      const cleared = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        body: { tags: [], due: null },
      });
      assert.equal(cleared.response.status, 200, JSON.stringify(cleared.error));
      assert.deepEqual(cleared.data?.tags, [], "tags: [] clears them");
      assert.equal(cleared.data?.due, null, "due: null clears it");
      assert.equal(cleared.data?.priority, "medium", "an absent field keeps its value");
      made11["delta"] = cleared.data ?? t("delta");
    });

    it("names the field of an invalid priority, tag or due", async () => {
      const post = (body: unknown) =>
        client.POST("/api/{user_id}/tasks", {
          params: { path: { user_id: user } },
          body: body as NewTask,
        });
      const fields = async (body: unknown) => Object.keys(fieldErrors(problemOf(await post(body), 422)));
      assert.deepEqual(await fields({ title: `${prefix} x`, priority: null }), ["priority"]);
      assert.match(fieldErrors((await post({ title: `${prefix} x`, priority: null })).error)["priority"]?.[0] ?? "", /none/);
      assert.deepEqual(
        await fields({ title: `${prefix} x`, due: { datetime: "2031-03-10T09:00", time_zone: "Mars/Olympus" } }),
        ["due.time_zone"],
      );
      assert.deepEqual(await fields({ title: `${prefix} x`, due: { date: "2031-02-30" } }), ["due.date"]);
      assert.ok((await fields({ title: `${prefix} x`, tags: ["a,b"] }))[0]?.startsWith("tags"));
    });
  });

  describe("contract 1.2: safe writes (If-Match, Idempotency-Key) and the trash", () => {
    const made12: Task[] = [];
    after(async () => {
      for (const t of made12) {
        await discard(t.id);
      }
    });
    const make = async (name: string): Promise<Task> => {
      const t = await create(`${prefix} ${name}`);
      made12.push(t);
      return t;
    };
    /** A task as one browser tab reads it: the body and the `ETag` header. */
    const read = async (id: number) => {
      const { data, error, response } = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id } },
      });
      assert.equal(response.status, 200, JSON.stringify(error));
      assert.ok(data);
      return { task: data, etag: response.headers.get("ETag") };
    };

    it("refuses a stale edit from a second tab with 412 and the current ETag", async () => {
      const made = await make("two tabs");
      assert.ok(made.version > 0, "a new task has a version");
      const tab1 = await read(made.id);
      const tab2 = await read(made.id);
      assert.equal(tab1.etag, `"${made.version}"`, "the ETag is the version in quotes");
      assert.deepEqual(ifMatch(tab1.task), { "If-Match": tab1.etag });
      const path = { user_id: user, id: made.id };

      // Tab 1 saves first: 200, a new version.
      const saved = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        headers: ifMatch(tab1.task),
        body: { title: `${prefix} two tabs, edited in tab 1` },
      });
      assert.equal(saved.response.status, 200, JSON.stringify(saved.error));
      assert.ok(saved.data);
      assert.ok(saved.data.version > tab1.task.version, "the version grows with the change");
      const current = saved.response.headers.get("ETag");
      assert.equal(current, `"${saved.data.version}"`);

      // Tab 2 still holds the old version: 412, nothing changes, and it learns the current ETag.
      const stale = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        headers: ifMatch(tab2.task),
        body: { title: `${prefix} two tabs, edited in tab 2` },
      });
      assert.equal(stale.data, undefined);
      const problem = problemOf(stale, 412);
      assert.match(problem.detail, /changed/, `a detail to show: ${problem.detail}`);
      assert.equal(stale.response.headers.get("ETag"), current, "the 412 carries the current ETag");
      const after412 = await read(made.id);
      assert.deepEqual(after412.task, saved.data, "tab 2 changed nothing");
      assert.equal(after412.etag, current);

      // A stale completion toggle is refused too (a double click cannot undo itself) ...
      const toggle = await client.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path, header: ifMatch(tab2.task) }, // params.header: checked against the contract
      });
      problemOf(toggle, 412);
      // ... and tab 2, having read again, saves with the ETag the 412 gave it (or "*" for any).
      const retried = await client.PUT("/api/{user_id}/tasks/{id}", {
        params: { path },
        headers: ifMatch(stale.response.headers.get("ETag") ?? ""),
        body: { completed: true },
      });
      assert.equal(retried.response.status, 200, JSON.stringify(retried.error));
      assert.equal(retried.data?.title, `${prefix} two tabs, edited in tab 1`);
      assert.equal(retried.data?.completed, true);
      const anyVersion = await client.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path },
        headers: ifMatch("*"),
        body: { completed: false },
      });
      assert.equal(anyVersion.response.status, 200, JSON.stringify(anyVersion.error));

      // If-None-Match with the current ETag: 304, which openapi-fetch reports as an `error` of "".
      const latest = anyVersion.response.headers.get("ETag") ?? "";
      const unchanged = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path, header: { "If-None-Match": latest } },
      });
      assert.equal(unchanged.response.status, 304);
      assert.equal(unchanged.data, undefined);
      assert.equal(readProblem(unchanged.error), undefined, "a 304 has no problem body");
      assert.equal(unchanged.response.headers.get("ETag"), latest);
    });

    it("replays a retried create with the same Idempotency-Key instead of creating twice", async () => {
      const key = idempotencyKey();
      assert.match(key["Idempotency-Key"], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const title = `${prefix} created once`;
      const post = (body: NewTask) =>
        client.POST("/api/{user_id}/tasks", { params: { path: { user_id: user } }, headers: key, body });

      const first = await post({ title });
      assert.equal(first.response.status, 201, JSON.stringify(first.error));
      assert.ok(first.data);
      made12.push(first.data);
      assert.equal(first.response.headers.get("Idempotent-Replayed"), null, "the first answer is not a replay");

      const again = await post({ title });
      assert.equal(again.response.status, 201, JSON.stringify(again.error));
      assert.deepEqual(again.data, first.data, "the same task, not a second one");
      assert.equal(again.response.headers.get("Idempotent-Replayed"), "true");
      assert.equal(again.response.headers.get("Location"), first.response.headers.get("Location"));
      assert.equal(again.response.headers.get("ETag"), first.response.headers.get("ETag"));
      assert.deepEqual(
        (await list({ search: title })).filter((t) => t.title === title).map((t) => t.id),
        [first.data.id],
        "exactly one task was created",
      );

      // The same key for another request is a mistake of the caller: 422, nothing created.
      const other = await post({ title: `${prefix} created once, other body` });
      const problem = problemOf(other, 422);
      assert.ok(fieldErrors(problem)["Idempotency-Key"], JSON.stringify(problem));
      assert.deepEqual(
        (await list({ search: `${prefix} created once` })).map((t) => t.id),
        [first.data.id],
        "the refused request created nothing",
      );

      // A fresh key is a fresh request.
      const fresh = await client.POST("/api/{user_id}/tasks", {
        params: { path: { user_id: user } },
        headers: idempotencyKey(`ts-client-${randomUUID()}`), // or a key of your own
        body: { title },
      });
      assert.equal(fresh.response.status, 201, JSON.stringify(fresh.error));
      assert.ok(fresh.data);
      made12.push(fresh.data);
      assert.notEqual(fresh.data.id, first.data.id);
    });

    it("moves a deleted task to the trash, lists it there and restores it", async () => {
      const made = await make("trashed");
      const path = { user_id: user, id: made.id };
      const once = { ...ifMatch(made), ...idempotencyKey() };

      const deleted = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path }, headers: once });
      assert.equal(deleted.response.status, 204, JSON.stringify(deleted.error));
      const trashedEtag = deleted.response.headers.get("ETag");
      assert.ok(trashedEtag, "a DELETE answers with the trashed task's ETag");
      assert.notEqual(trashedEtag, `"${made.version}"`, "trashing is a change");
      // A retried DELETE (say, after a lost response) gets the same answer, not a 404.
      const retried = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path }, headers: once });
      assert.equal(retried.response.status, 204, JSON.stringify(retried.error));
      assert.equal(retried.response.headers.get("Idempotent-Replayed"), "true");
      assert.equal(retried.response.headers.get("ETag"), trashedEtag);

      problemOf(await client.GET("/api/{user_id}/tasks/{id}", { params: { path } }), 404);
      assert.deepEqual(
        (await list({ search: made.title })).map((t) => t.id),
        [],
        "a trashed task is not listed",
      );

      const trash = await client.GET("/api/{user_id}/trash", { params: { path: { user_id: user } } });
      assert.equal(trash.response.status, 200, JSON.stringify(trash.error));
      assert.ok(trash.data);
      const inTrash = trash.data.find((t) => t.id === made.id);
      assert.ok(inTrash, "the trash lists it");
      assert.equal(typeof inTrash.trashed_at, "string", "with trashed_at");
      micros(inTrash.trashed_at ?? "");
      assert.equal(`"${inTrash.version}"`, trashedEtag, "at the version the DELETE answered with");
      assert.deepEqual({ ...inTrash, version: made.version, trashed_at: null }, made, "as it was");

      const restored = await client.POST("/api/{user_id}/tasks/{id}/restore", {
        params: { path },
        headers: { ...ifMatch(trashedEtag), ...idempotencyKey() },
      });
      assert.equal(restored.response.status, 200, JSON.stringify(restored.error));
      assert.ok(restored.data);
      assert.equal(restored.data.trashed_at, null);
      assert.ok(restored.data.version > inTrash.version, "restoring is a change");
      assert.equal(restored.response.headers.get("ETag"), `"${restored.data.version}"`);
      assert.deepEqual((await read(made.id)).task, restored.data, "it is back");
      const trashAfter = await client.GET("/api/{user_id}/trash", { params: { path: { user_id: user } } });
      assert.ok(!trashAfter.data?.some((t) => t.id === made.id), "and no longer in the trash");

      // Purged for good: only from the trash (404 before), then it cannot be restored.
      problemOf(await client.DELETE("/api/{user_id}/trash/{id}", { params: { path } }), 404);
      const again = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.equal(again.response.status, 204, JSON.stringify(again.error));
      const purged = await client.DELETE("/api/{user_id}/trash/{id}", { params: { path }, headers: idempotencyKey() });
      assert.equal(purged.response.status, 204, JSON.stringify(purged.error));
      problemOf(await client.POST("/api/{user_id}/tasks/{id}/restore", { params: { path } }), 404);
    });

    it("keeps one user's trash from another", async () => {
      const made = await make("not theirs");
      const path = { user_id: user, id: made.id };
      const deleted = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path } });
      assert.equal(deleted.response.status, 204, JSON.stringify(deleted.error));
      const theirs = await other.GET("/api/{user_id}/trash", { params: { path: { user_id: otherUser } } });
      assert.equal(theirs.response.status, 200, JSON.stringify(theirs.error));
      assert.ok(!theirs.data?.some((t) => t.id === made.id), "the other user's trash does not list it");
      const otherPath = { user_id: otherUser, id: made.id };
      problemOf(await other.POST("/api/{user_id}/tasks/{id}/restore", { params: { path: otherPath } }), 404);
      problemOf(await other.DELETE("/api/{user_id}/trash/{id}", { params: { path: otherPath } }), 404);
      problemOf(await client.GET("/api/{user_id}/trash", { params: { path: { user_id: otherUser } } }), 403);
    });
  });
}
