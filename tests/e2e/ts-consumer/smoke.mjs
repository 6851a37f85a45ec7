// What the frontend does at run time, as plain Node: imports the installed package (and,
// through it, openapi-fetch) and calls the running server at NEXT_PUBLIC_API_URL.
// Also reads TODO_API_USER and TODO_API_TOKEN (a user and a bearer token for it).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createTodoClient, idempotencyKey, ifMatch, listAllTasks, readProblem, subscribe } from "todo-api-client";

const { NEXT_PUBLIC_API_URL: baseUrl, TODO_API_USER: user, TODO_API_TOKEN: token } = process.env;
assert.ok(baseUrl && user && token, "NEXT_PUBLIC_API_URL, TODO_API_USER and TODO_API_TOKEN must be set");

const api = createTodoClient({ baseUrl, token: async () => token });
const path = { user_id: user };
const title = `ts-consumer ${new Date().toISOString()} ${process.pid}`;

/** Resolves when `done()` holds (polling), rejects naming `what` after 10 s. */
async function until(what, done) {
  for (const end = Date.now() + 10_000; !done(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

// The live changes, as a page follows them: subscribed before the writes below.
const seen = [];
const failures = [];
let opened = false;
const live = subscribe(api, user, {
  onOpen: () => (opened = true),
  onChange: (change) => seen.push(change),
  onError: (error) => failures.push(error.message),
});
await until(`the event stream to open (${failures.join("; ") || "no error"})`, () => opened);

// Sent twice with one Idempotency-Key, as a retry after a lost response would: one task.
const once = idempotencyKey();
const create = () =>
  api.POST("/api/{user_id}/tasks", {
    params: { path },
    headers: once,
    body: { title, description: null, priority: "high", tags: ["Smoke"], due: { date: "2031-01-01" } },
  });
const created = await create();
assert.equal(created.response.status, 201, JSON.stringify(created.error));
const { id } = created.data;
const replayed = await create();
assert.equal(replayed.response.headers.get("Idempotent-Replayed"), "true", "the retry is a replay");
assert.equal(replayed.data.id, id, "the retry created nothing");

const listed = await api.GET("/api/{user_id}/tasks", { params: { path, query: { status: "pending" } } });
assert.equal(listed.response.status, 200, JSON.stringify(listed.error));
assert.ok(listed.data.some((task) => task.id === id && task.title === title), "the new task is listed");

const all = await listAllTasks(api, user, { tag: ["smoke"], priority: ["high"], limit: 1 });
assert.equal(all.response.status, 200, JSON.stringify(all.error));
assert.deepEqual(all.data.filter((task) => task.id === id).map((task) => task.tags), [["smoke"]], "listAllTasks finds it");

const stale = await api.DELETE("/api/{user_id}/tasks/{id}", {
  params: { path: { ...path, id } },
  headers: ifMatch({ version: created.data.version - 1 }),
});
assert.equal(stale.response.status, 412, "If-Match with an old version deletes nothing");
const deleted = await api.DELETE("/api/{user_id}/tasks/{id}", {
  params: { path: { ...path, id } },
  headers: ifMatch(created.data),
});
assert.equal(deleted.response.status, 204, JSON.stringify(deleted.error));

const ofTask = (type) => seen.some((change) => change.type === type && change.task?.id === id);
await until("the created and trashed changes, live", () => ofTask("created") && ofTask("trashed"));
live.close();
assert.equal(await live.closed, undefined, "close() ends the subscription");

const gone = await api.GET("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id } } });
assert.equal(gone.response.status, 404);
assert.equal(readProblem(gone.error)?.status, 404, "the 404 is a problem body");

console.log(`module: ${fileURLToPath(import.meta.resolve("todo-api-client"))}`);
console.log(
  `created (and replayed), listed and deleted task ${id}, seen live (${seen.length} changes); ` +
    `then 404: ${readProblem(gone.error)?.detail}`,
);
