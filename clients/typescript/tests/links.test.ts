// The Link-following helpers without a server: RFC 8288 parsing, and taskPages/listAllTasks
// against a fake `fetch` that serves pages the way todo-api does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createTodoClient,
  listAllTasks,
  nextLink,
  parseLinkHeader,
  taskPages,
  type Task,
} from "../src/index.js";

describe("parseLinkHeader", () => {
  it("reads todo-api's next link", () => {
    assert.deepEqual(parseLinkHeader('</api/alice/tasks?limit=2&cursor=abc>; rel="next"'), [
      { target: "/api/alice/tasks?limit=2&cursor=abc", rel: ["next"] },
    ]);
  });

  it("keeps commas and semicolons inside <…> and quoted values apart", () => {
    const header =
      '</a?x=1,2;3>; title="one, two; three"; rel="prev", ' +
      '<https://example.com/b>;rel=next;title="say \\"hi\\", then go"';
    assert.deepEqual(parseLinkHeader(header), [
      { target: "/a?x=1,2;3", rel: ["prev"] },
      { target: "https://example.com/b", rel: ["next"] },
    ]);
  });

  it("reads a rel list, case-insensitively, and only the first rel", () => {
    assert.deepEqual(parseLinkHeader('</c>; REL="Last  NEXT"; rel="prev"'), [
      { target: "/c", rel: ["last", "next"] },
    ]);
  });

  it("skips what is not a link-value and tolerates empty elements", () => {
    assert.deepEqual(parseLinkHeader(' , garbage; rel="next", ,</d> ; rel = "next" ,'), [
      { target: "/d", rel: ["next"] },
    ]);
    assert.deepEqual(parseLinkHeader(""), []);
    assert.deepEqual(parseLinkHeader(null), []);
    assert.deepEqual(parseLinkHeader("</e>"), [{ target: "/e", rel: [] }]);
  });

  it("nextLink picks the target whose rel list contains next", () => {
    const response = new Response("[]", {
      headers: { Link: '</first>; rel="first", </after>; rel="nofollow next"' },
    });
    assert.equal(nextLink(response), "/after");
    assert.equal(nextLink(new Response("[]")), undefined);
    assert.equal(nextLink(new Response("[]", { headers: { Link: '</x>; rel="prev"' } })), undefined);
  });
});

const task = (id: number): Task => ({
  id,
  user_id: "alice",
  title: `task ${id}`,
  description: null,
  completed: false,
  priority: "none",
  tags: [],
  due: null,
  recurrence: null,
  reminders: [],
  created_at: "2026-12-01T00:00:00.000000Z",
  updated_at: "2026-12-01T00:00:00.000000Z",
  version: id,
  trashed_at: null,
});

/**
 * A client whose fetch serves `pages` (page i links to `links[i]`, when given) and records the
 * requests it got.
 */
function fakeServer(pages: Task[][], links: (string | undefined)[]) {
  const requests: Request[] = [];
  const fetch = async (input: Request): Promise<Response> => {
    requests.push(input);
    const url = new URL(input.url);
    const page = Number(url.searchParams.get("page") ?? "0");
    if (url.searchParams.get("fail") === "yes") {
      return Response.json(
        { type: "about:blank", title: "Unprocessable Entity", status: 422, detail: "bad cursor" },
        { status: 422, headers: { "Content-Type": "application/problem+json" } },
      );
    }
    const link = links[page];
    return Response.json(pages[page] ?? [], link === undefined ? {} : { headers: { Link: link } });
  };
  const client = createTodoClient({ baseUrl: "http://api.test:8000/", token: "t0ken", fetch });
  return { client, requests };
}

describe("taskPages and listAllTasks", () => {
  it("follow rel=next, resolved against the base URL, with the token, until no Link", async () => {
    const { client, requests } = fakeServer(
      [[task(1), task(2)], [task(3), task(4)], [task(5)]],
      [
        '</api/alice%20b/tasks?tag=x&limit=2&page=1>; rel="next"',
        '</api/alice%20b/tasks?tag=x&limit=2&page=2>; rel="prev next"',
      ],
    );
    const all = await listAllTasks(client, "alice b", { tag: ["x"], limit: 2 });
    assert.deepEqual(all.data?.map((t) => t.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(
      requests.map((r) => r.url),
      [
        "http://api.test:8000/api/alice%20b/tasks?tag=x&limit=2",
        "http://api.test:8000/api/alice%20b/tasks?tag=x&limit=2&page=1",
        "http://api.test:8000/api/alice%20b/tasks?tag=x&limit=2&page=2",
      ],
    );
    for (const request of requests) {
      assert.equal(request.headers.get("authorization"), "Bearer t0ken");
      assert.equal(request.method, "GET");
    }
  });

  it("yield each page, and stop after one that failed", async () => {
    const { client } = fakeServer([[task(1)], []], ['</api/alice/tasks?fail=yes>; rel="next"']);
    const statuses: number[] = [];
    for await (const page of taskPages(client, "alice")) {
      statuses.push(page.response.status);
    }
    assert.deepEqual(statuses, [200, 422]);
    const all = await listAllTasks(client, "alice");
    assert.equal(all.data, undefined);
    assert.equal(all.response.status, 422);
    assert.equal(all.error?.detail, "bad cursor");
  });

  it("never send the token to another origin", async () => {
    const { client, requests } = fakeServer([[task(1)]], ['<http://elsewhere.test/steal>; rel="next"']);
    await assert.rejects(listAllTasks(client, "alice"), /another origin/);
    assert.equal(requests.length, 1);
  });

  it("stop when a Link points back at a page already read", async () => {
    const { client } = fakeServer(
      [[task(1)], [task(2)], [task(3)]],
      ['</api/alice/tasks?page=1>; rel="next"', '</api/alice/tasks?page=1>; rel="next"'],
    );
    await assert.rejects(listAllTasks(client, "alice"), /already read/);
  });
});
