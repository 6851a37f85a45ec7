/**
 * Typed client for todo-api.
 *
 * The types come from `./generated/schema.ts`, which openapi-typescript generates from the
 * committed contract (`openapi.yaml`); the runtime is openapi-fetch. This file only adds the
 * bearer token, friendly names, helpers that follow the task list's `Link` headers and the
 * headers of safe writes (`If-Match`, `Idempotency-Key`): nothing here re-declares a shape of
 * the contract.
 */
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./generated/schema.js";

export type { components, operations, paths };

type Schemas = components["schemas"];

/** A task, as every operation returns it. */
export type Task = Schemas["Task"];
/** The body of `POST /api/{user_id}/tasks`. */
export type NewTask = Schemas["TaskCreate"];
/** The body of `PUT /api/{user_id}/tasks/{id}`: only the fields to change. */
export type TaskUpdate = Schemas["TaskUpdate"];
/** The optional body of `PATCH /api/{user_id}/tasks/{id}/complete` (no body toggles). */
export type TaskCompletion = Schemas["TaskCompletion"];
/** An RFC 9457 problem: every error response's body. */
export type Problem = Schemas["Problem"];
/** One entry of a 422 problem's `errors`. */
export type FieldProblem = Schemas["FieldProblem"];
/** The `status` query parameter of the task list. */
export type TaskStatusFilter = Schemas["TaskStatusFilter"];
/** A task's priority: `none`, `low`, `medium` or `high`. */
export type TaskPriority = Schemas["TaskPriority"];
/** A task's `due`, as responses show it (all four keys; the task's `due` is this or `null`). */
export type TaskDue = Schemas["TaskDue"];
/** The `due` of a new task or an update: a date, a wall-clock time in a zone, or an instant. */
export type TaskDueInput = NonNullable<NewTask["due"]>;
/** The `due` query parameter of the task list: `overdue`, `today`, `week`, `none` or `any`. */
export type TaskDueWindow = Schemas["TaskDueWindow"];
/**
 * The `sort` query parameter of the task list: since contract 1.1 a comma-separated list of
 * `key[:asc|:desc]` (`"priority,due"`), so any string.
 * @deprecated Contract 1.0 had an enum of keys here; it is now `string`. Kept so code that
 * imports it still compiles.
 */
export type TaskSortKey = NonNullable<TaskListQuery["sort"]>;
/** The `order` query parameter of the task list. */
export type SortOrder = Schemas["SortOrder"];
/** The body of `/health` and `/ready`. */
export type HealthStatus = Schemas["Status"];
/** All query parameters of `GET /api/{user_id}/tasks`. */
export type TaskListQuery = NonNullable<operations["list_tasks"]["parameters"]["query"]>;
/** The query parameters of `GET /api/{user_id}/trash` (`limit`, `offset`). */
export type TrashListQuery = NonNullable<operations["list_trash"]["parameters"]["query"]>;

/** A client for every route of the contract: `client.GET("/api/{user_id}/tasks", …)`. */
export type TodoClient = Client<paths>;

/**
 * The bearer token, or a function that returns it; the function is called before every
 * request, so it can hand out a fresh token (for example Better Auth's `authClient.token()`).
 * When it gives nothing, the request goes out without `Authorization` (and the API answers 401).
 */
export type TokenSource =
  | string
  | (() => string | null | undefined | Promise<string | null | undefined>);

export interface TodoClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** Where the API is, for example `http://127.0.0.1:8000` (without `/api`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` on every request. */
  token?: TokenSource;
}

/** openapi-fetch middleware that sets `Authorization: Bearer <token>`. */
export function bearerAuth(token: TokenSource): Middleware {
  return {
    async onRequest({ request }) {
      const value = typeof token === "function" ? await token() : token;
      if (value) {
        request.headers.set("Authorization", `Bearer ${value}`);
      }
      return request;
    },
  };
}

/** Creates a typed client; every request carries the bearer token when one is given. */
export function createTodoClient({ token, ...options }: TodoClientOptions): TodoClient {
  const client = createClient<paths>(options);
  if (token !== undefined) {
    client.use(bearerAuth(token));
  }
  return client;
}

/** The request headers of `PUT /api/{user_id}/tasks/{id}`, which takes both of the ones below. */
type WriteHeaders = NonNullable<operations["update_task"]["parameters"]["header"]>;

/** `{ "If-Match": "\"8\"" }`, as {@link ifMatch} gives it. */
export type IfMatchHeader = Required<Pick<WriteHeaders, "If-Match">>;
/** `{ "Idempotency-Key": "…" }`, as {@link idempotencyKey} gives it. */
export type IdempotencyKeyHeader = Required<Pick<WriteHeaders, "Idempotency-Key">>;

/**
 * The `If-Match` header for a write that must apply only to the task as the caller last saw it:
 * PUT, PATCH `…/complete`, DELETE and POST `…/restore` of `/api/{user_id}/tasks/{id}`. Give the
 * task you hold (its `version` becomes the strong entity tag `"<version>"`, the task's `ETag`),
 * or an entity tag as a response's `ETag` header carries it (a DELETE answers 204 with only that:
 * the `If-Match` of its restore), or `"*"` for any version of an existing task.
 *
 * If somebody changed the task since, the write answers 412 and changes nothing; the response's
 * `ETag` header is the task's current version and the problem's `detail` says what happened:
 * read the task again, reapply the change, retry.
 *
 * ```ts
 * const { data, error, response } = await api.PUT("/api/{user_id}/tasks/{id}", {
 *   params: { path: { user_id: userId, id: task.id } },
 *   headers: ifMatch(task),          // or params.header, checked against the contract
 *   body: { title },
 * });
 * if (response.status === 412) showConflict(readProblem(error)?.detail, response.headers.get("ETag"));
 * ```
 */
export function ifMatch(task: Pick<Task, "version"> | string): IfMatchHeader {
  return { "If-Match": typeof task === "string" ? task : `"${task.version}"` };
}

/**
 * The `Idempotency-Key` header that makes a write safe to retry: POST `/api/{user_id}/tasks`,
 * PUT, PATCH `…/complete`, DELETE and POST `…/restore` of a task, DELETE of
 * `/api/{user_id}/trash/{id}` and of `/api/{user_id}/trash`. A retry with the same key and the
 * same request (method, path, `If-Match` and body) does nothing again: it gets the first answer,
 * with `Idempotent-Replayed: true`. The same key on a different request is a 422; while the first
 * request is still being processed, a retry gets 409 with `Retry-After`.
 *
 * Without `key`, a new random UUID. Make one per user action and send the same object with each
 * retry of that action: a new key per attempt would not deduplicate anything.
 *
 * ```ts
 * const once = idempotencyKey();   // when the user clicks "Add"
 * const post = () => api.POST("/api/{user_id}/tasks", { params: { path }, headers: once, body });
 * let result = await post();
 * if (result.response.status >= 500) result = await post(); // cannot create a second task
 * ```
 */
export function idempotencyKey(key: string = randomKey()): IdempotencyKeyHeader {
  return { "Idempotency-Key": key };
}

/** A random UUID; also where `crypto.randomUUID` is missing (pages not served over HTTPS). */
function randomKey(): string {
  if (typeof globalThis.crypto.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  // RFC 9562 version 4 from 16 random bytes, as randomUUID makes it.
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(b, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The RFC 9457 problem in an error response (`const { error } = await client.GET(…)`), or
 * `undefined` when the body is not one (for example a proxy's HTML error page).
 */
export function readProblem(error: unknown): Problem | undefined {
  if (typeof error !== "object" || error === null) {
    return undefined;
  }
  const body = error as Record<string, unknown>;
  const { type, title, status, detail, errors } = body;
  if (
    typeof type !== "string" ||
    typeof title !== "string" ||
    typeof status !== "number" ||
    typeof detail !== "string"
  ) {
    return undefined;
  }
  const problem: Problem = { type, title, status, detail };
  if (Array.isArray(errors)) {
    problem.errors = errors.filter(
      (e): e is FieldProblem =>
        typeof e === "object" &&
        e !== null &&
        typeof (e as Record<string, unknown>)["field"] === "string" &&
        typeof (e as Record<string, unknown>)["message"] === "string",
    );
  }
  return problem;
}

/**
 * The messages of a 422 problem by field (`title`, `description`, `body`, a query parameter…),
 * for showing next to form inputs; empty when the error has none.
 */
export function fieldErrors(error: unknown): Record<string, string[]> {
  const byField: Record<string, string[]> = {};
  for (const { field, message } of readProblem(error)?.errors ?? []) {
    (byField[field] ??= []).push(message);
  }
  return byField;
}

/** One `<target>; rel="…"` of an RFC 8288 `Link` header: its target as written, its rel types. */
export interface WebLink {
  /** The URI reference between `<` and `>`, not resolved. */
  target: string;
  /** The `rel` parameter's relation types, lower-cased (`rel="next last"` gives both). */
  rel: string[];
}

/**
 * The links of an RFC 8288 `Link` header value (several headers joined by `, `, as `fetch`
 * gives them). Commas and semicolons inside `<…>` and inside quoted parameter values are kept
 * apart; a link-value that does not start with `<` is skipped.
 */
export function parseLinkHeader(value: string | null | undefined): WebLink[] {
  const links: WebLink[] = [];
  const text = value ?? "";
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  // Skips to just after the next top-level comma (outside `<…>` and quotes).
  const skipToNextLink = () => {
    let quoted = false;
    let bracketed = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === "\\") i++;
        else if (c === '"') quoted = false;
      } else if (bracketed) {
        if (c === ">") bracketed = false;
      } else if (c === '"') quoted = true;
      else if (c === "<") bracketed = true;
      else if (c === ",") {
        i++;
        return;
      }
    }
  };
  while (i < text.length) {
    skipSpace();
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] !== "<") {
      skipToNextLink();
      continue;
    }
    const end = text.indexOf(">", i + 1);
    if (end < 0) break;
    const target = text.slice(i + 1, end).trim();
    i = end + 1;
    let rel: string[] | undefined;
    for (;;) {
      skipSpace();
      if (text[i] !== ";") break;
      i++;
      skipSpace();
      let name = "";
      while (i < text.length && !/[=;,\s]/.test(text[i] ?? "")) name += text[i++];
      skipSpace();
      let paramValue = "";
      if (text[i] === "=") {
        i++;
        skipSpace();
        if (text[i] === '"') {
          for (i++; i < text.length && text[i] !== '"'; i++) {
            if (text[i] === "\\") i++;
            paramValue += text[i] ?? "";
          }
          i++; // the closing quote
        } else {
          while (i < text.length && !/[;,\s]/.test(text[i] ?? "")) paramValue += text[i++];
        }
      }
      // RFC 8288 §3.3: a second `rel` is ignored; relation types compare case-insensitively.
      if (name.toLowerCase() === "rel" && rel === undefined) {
        rel = paramValue.toLowerCase().split(/[ \t]+/).filter((type) => type !== "");
      }
    }
    links.push({ target, rel: rel ?? [] });
    skipToNextLink();
  }
  return links;
}

/**
 * The target of the `Link` header's `rel="next"` (as written, for example
 * `/api/alice/tasks?limit=50&cursor=…`), or `undefined` on the last page.
 */
export function nextLink(response: Response): string | undefined {
  return parseLinkHeader(response.headers.get("link")).find((link) => link.rel.includes("next"))
    ?.target;
}

/** A per-request middleware that sends the request to `target` instead, resolved against it. */
function followLink(target: string): Middleware {
  return {
    onRequest({ request }) {
      // `request.url` is the client's base URL plus the list's path, always absolute; a
      // path-absolute reference (what the server sends) keeps only its scheme and host.
      const url = new URL(target, request.url);
      if (url.origin !== new URL(request.url).origin) {
        // The bearer token goes with the request: never to another origin.
        throw new Error(`todo-api-client: refusing to follow a Link to another origin: ${url.href}`);
      }
      return new Request(url, request);
    },
  };
}

/** Options of {@link taskPages} and {@link listAllTasks}. */
export interface TaskPagesOptions {
  /** Aborts the request under way (and with it the paging). */
  signal?: AbortSignal;
}

/**
 * Every page of the user's tasks that match `query`: the first page as `query` asks, then each
 * page its predecessor's `Link: <…>; rel="next"` points at, until a page has none. Each item is
 * openapi-fetch's result (`{ data, response }`, or `{ error, response }` after which it stops), so
 * a UI can show each page as it arrives. Pass `limit` for the page size (default 500).
 *
 * ```ts
 * for await (const { data, error, response } of taskPages(api, userId, { tag: ["home"], limit: 100 })) {
 *   if (error) throw new Error(readProblem(error)?.detail ?? `HTTP ${response.status}`);
 *   render(data);
 * }
 * ```
 */
export async function* taskPages(
  client: TodoClient,
  userId: string,
  query: TaskListQuery = {},
  options: TaskPagesOptions = {},
) {
  const followed = new Set<string>();
  let next: string | undefined;
  for (;;) {
    const page = await client.GET("/api/{user_id}/tasks", {
      // The first page from `query`; every later one from the Link as the server wrote it
      // (its cursor is bound to the filters and sort in that same address).
      params: { path: { user_id: userId }, query: next === undefined ? query : {} },
      ...(next === undefined ? {} : { middleware: [followLink(next)] }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    yield page;
    if (page.error !== undefined || !page.response.ok) {
      return;
    }
    next = nextLink(page.response);
    if (next === undefined) {
      return;
    }
    if (followed.has(next)) {
      throw new Error(`todo-api-client: the Link header points at a page already read: ${next}`);
    }
    followed.add(next);
  }
}

/** One page as {@link taskPages} yields it: openapi-fetch's result of the list call. */
export type TaskPage = typeof taskPages extends (...args: never[]) => AsyncGenerator<infer Page>
  ? Page
  : never;

/** The result of {@link listAllTasks}, in openapi-fetch's shape. */
export type AllTasksResult =
  | { data: Task[]; error?: never; response: Response }
  | { data?: never; error: NonNullable<TaskPage["error"]>; response: Response };

/**
 * All of the user's tasks that match `query`, across as many pages as it takes (see
 * {@link taskPages}): `{ data, response }` with every task in order and the last page's
 * response, or `{ error, response }` from the first page that failed. Calls do not throw on HTTP
 * errors, like the client's own.
 *
 * ```ts
 * const { data, error } = await listAllTasks(api, userId, { status: "pending", sort: "priority,due" });
 * ```
 */
export async function listAllTasks(
  client: TodoClient,
  userId: string,
  query: TaskListQuery = {},
  options: TaskPagesOptions = {},
): Promise<AllTasksResult> {
  const tasks: Task[] = [];
  let last: Response | undefined;
  for await (const page of taskPages(client, userId, query, options)) {
    last = page.response;
    if (page.data === undefined) {
      return { error: page.error, response: page.response };
    }
    tasks.push(...page.data);
  }
  // taskPages always yields at least one page.
  return { data: tasks, response: last as Response };
}
