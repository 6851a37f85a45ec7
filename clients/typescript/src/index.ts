/**
 * Typed client for todo-api.
 *
 * The types come from `./generated/schema.ts`, which openapi-typescript generates from the
 * committed contract (`openapi.yaml`); the runtime is openapi-fetch. This file only adds the
 * bearer token, friendly names, helpers that follow the lists' `Link` headers, the headers of
 * safe writes (`If-Match`, `Idempotency-Key`) and {@link subscribe} (the live changes of
 * `GET /api/{user_id}/events` over `fetch`): nothing here re-declares a shape of the contract.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
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
/**
 * One change of one of the user's tasks, as `GET /api/{user_id}/changes` lists it and
 * `GET /api/{user_id}/events` streams it: `seq` (the user's change number), `type`, `at`, and
 * `task` (the task right after the change) or, for `purged`, `task_id`.
 */
export type Change = Schemas["Change"];
/** How a recurring task repeats (contract 1.4): an RFC 5545 RRULE and what it counts from. */
export type TaskRecurrence = Schemas["TaskRecurrence"];
/** A reminder as tasks show it: `before` (ISO 8601 duration) or null, and the instant it is for. */
export type TaskReminder = Schemas["TaskReminder"];
/** `due` (the default) or `completion`. */
export type TaskRepeatFrom = Schemas["TaskRepeatFrom"];
/** What a change did: `created`, `updated`, `completed`, `uncompleted`, `trashed`, `restored`, `purged`, `reminder` (1.4). Pass over types you do not know. */
export type ChangeType = Schemas["ChangeType"];
/** The query parameters of `GET /api/{user_id}/changes` (`since`, `limit`, `after`). */
export type ChangeListQuery = NonNullable<operations["list_changes"]["parameters"]["query"]>;

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
  yield* linkedPages((link) =>
    client.GET("/api/{user_id}/tasks", {
      // The first page from `query`; every later one from the Link as the server wrote it
      // (its cursor is bound to the filters and sort in that same address).
      params: { path: { user_id: userId }, query: link === undefined ? query : {} },
      ...(link === undefined ? {} : { middleware: [followLink(link)] }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }),
  );
}

/**
 * The pages of a list that links to its next page: `read(undefined)` for the first, then
 * `read(target)` for each `Link: <target>; rel="next"`, until a page has none or fails (that
 * page is yielded, then it stops). A link back to a page already read throws.
 */
async function* linkedPages<Page extends { error?: unknown; response: Response }>(
  read: (link: string | undefined) => Promise<Page>,
): AsyncGenerator<Page, void, undefined> {
  const followed = new Set<string>();
  let next: string | undefined;
  for (;;) {
    const page = await read(next);
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

/** The `since` of a change-feed address (`/api/u1/changes?since=120&limit=2`), 0 without one. */
function sinceOf(target: string): number {
  const since = Number(new URL(target, "http://localhost").searchParams.get("since") ?? 0);
  return Number.isSafeInteger(since) && since > 0 ? since : 0;
}

/**
 * Every page of the user's change feed from `query.since` (default 0: a snapshot of the current
 * tasks, trash included, as `created` and `trashed` changes), following each page's
 * `Link: <…>; rel="next"` until a page has none: a snapshot's last page links to the changes
 * committed after it, so the pages end up at the user's latest change. Each item is
 * openapi-fetch's result (`{ data, response }`, or `{ error, response }` after which it stops;
 * a 410 means `since` is older than the changes the server keeps: read again from 0).
 *
 * ```ts
 * for await (const { data, error, response } of changePages(api, userId, { since: copy.seq })) {
 *   if (error) throw new Error(readProblem(error)?.detail ?? `HTTP ${response.status}`);
 *   for (const change of data) copy.apply(change);
 * }
 * ```
 */
export async function* changePages(
  client: TodoClient,
  userId: string,
  query: ChangeListQuery = {},
  options: TaskPagesOptions = {},
) {
  yield* linkedPages((link) =>
    client.GET("/api/{user_id}/changes", {
      // The first page from `query`; every later one from the Link as the server wrote it
      // (a snapshot's position, `after`, only means something in that same address).
      params: { path: { user_id: userId }, query: link === undefined ? query : {} },
      ...(link === undefined ? {} : { middleware: [followLink(link)] }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }),
  );
}

/** One page as {@link changePages} yields it: openapi-fetch's result of the feed call. */
export type ChangePage = typeof changePages extends (...args: never[]) => AsyncGenerator<infer Page>
  ? Page
  : never;

/** The result of {@link listAllChanges}, in openapi-fetch's shape. */
export type AllChangesResult =
  | {
      data: Change[];
      /**
       * Where the feed is now: the `since` to read on from (the next `listAllChanges`) or to
       * {@link subscribe} from, without a gap or a duplicate. It is the last change's `seq`
       * (after a snapshot, the user's latest change number; 0 for a user with no change yet).
       */
      since: number;
      error?: never;
      response: Response;
    }
  | { data?: never; since?: never; error: NonNullable<ChangePage["error"]>; response: Response };

/**
 * The user's changes after `query.since` across as many pages as it takes (see
 * {@link changePages}): `{ data, since, response }` with every change in order, the `since` to
 * read on from and the last page's response, or `{ error, response }` from the first page that
 * failed (410: `since` is too old, start again from 0). Calls do not throw on HTTP errors.
 *
 * The way to keep a copy of the tasks: a snapshot first, then live changes from where it ended.
 *
 * ```ts
 * const { data, since, error } = await listAllChanges(api, userId);  // since=0: a snapshot
 * if (error) throw new Error(readProblem(error)?.detail ?? "Something went wrong");
 * data.forEach(apply);
 * const live = subscribe(api, userId, { since, onChange: apply });    // no gap, no duplicate
 * ```
 */
export async function listAllChanges(
  client: TodoClient,
  userId: string,
  query: ChangeListQuery = {},
  options: TaskPagesOptions = {},
): Promise<AllChangesResult> {
  const changes: Change[] = [];
  let since = query.since ?? 0;
  let pageSince = since;
  let last: Response | undefined;
  for await (const page of changePages(client, userId, query, options)) {
    last = page.response;
    if (page.data === undefined) {
      return { error: page.error, response: page.response };
    }
    changes.push(...page.data);
    // A snapshot's `seq`s are task versions, not positions: only a page of the log (since > 0)
    // moves the position, to its last change (or to its own `since` when it is empty).
    if (pageSince > 0) {
      since = page.data.at(-1)?.seq ?? pageSince;
    }
    const next = nextLink(page.response);
    if (next !== undefined) {
      pageSince = sinceOf(next);
    }
  }
  // changePages always yields at least one page.
  return { data: changes, since, response: last as Response };
}

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /**
   * Called with every change, in the order the server committed them, synchronously as each
   * event arrives (queue async work yourself). An exception it throws is reported as an
   * uncaught error (the console, `window.onerror`, Node's `uncaughtException`); the subscription
   * goes on.
   */
  onChange: (change: Change) => void;
  /**
   * Where to start: the last `seq` your copy applied (for example `listAllChanges`' `since`),
   * or `0` for a snapshot of the current tasks first (`created` and `trashed` changes, then the
   * live ones). Without it the stream starts with the next change. Once an event has arrived,
   * reconnections resume after the last event's id (`Last-Event-ID`) instead.
   */
  since?: number;
  /** Stops the subscription, like {@link ChangeSubscription.close}. */
  signal?: AbortSignal;
  /** Called on every successful connection (the first and each reconnection), with its 200. */
  onOpen?: (response: Response) => void;
  /**
   * Called when something fails: a connection (a network error, an HTTP error, a body that is
   * not an event stream) or an event whose data is not a change (skipped). `error.retrying`
   * says whether the subscription goes on (reconnecting after `error.delay` ms) or has stopped
   * (`closed` then resolves with the same error).
   */
  onError?: (error: SubscriptionError) => void;
  /**
   * What to do on 410 Gone, when the server no longer keeps the changes after the last event
   * (the client was away longer than the server's retention, 30 days by default):
   * - `"stop"` (the default): report it to `onError` (`status` 410, `retrying: false`) and stop;
   *   read a snapshot (`listAllChanges`) and subscribe again from its `since`.
   * - `"resync"`: call `onResync`, then reconnect with `since=0`: a snapshot of the current
   *   tasks arrives as `created` and `trashed` changes, then the live changes.
   */
  gone?: "stop" | "resync";
  /**
   * With `gone: "resync"`: called before the snapshot that replaces your copy. Drop every task
   * you hold (tasks purged meanwhile are in no snapshot).
   */
  onResync?: (problem: Problem | undefined) => void;
  /**
   * The first wait before reconnecting, in milliseconds (default 1000; a `retry:` field from
   * the server replaces it). Each failure in a row doubles it, up to `maxRetryDelay` (default
   * 30 000); every wait is jittered down to half; a `Retry-After` (429, 503) is waited at least.
   */
  retryDelay?: number;
  /** The longest wait before reconnecting, in milliseconds (default 30 000). */
  maxRetryDelay?: number;
}

/** A subscription as {@link subscribe} returns it. */
export interface ChangeSubscription {
  /** Stops it: closes the connection or cancels the wait for the next one. */
  close(): void;
  /** The id of the last event received (its change's `seq`), where a reconnection resumes. */
  readonly lastEventId: string | undefined;
  /**
   * Resolves when the subscription has stopped for good: with `undefined` after `close()` or
   * the signal, or with the error it did not retry (for example a 401 or 403, or a 410 with
   * `gone: "stop"`). It never rejects.
   */
  readonly closed: Promise<SubscriptionError | undefined>;
}

/** Why a connection of {@link subscribe} failed, as `onError` gets it. */
export class SubscriptionError extends Error {
  override readonly name = "SubscriptionError";
  /** The HTTP status, when the server answered with an error; `undefined` otherwise. */
  readonly status: number | undefined;
  /** The RFC 9457 problem of that answer, when it had one (show its `detail`). */
  readonly problem: Problem | undefined;
  /** Whether the subscription goes on; `false`: it has stopped. */
  readonly retrying: boolean;
  /** When it reconnects: milliseconds until the next connection. */
  readonly delay: number | undefined;

  constructor(
    message: string,
    details: {
      status?: number | undefined;
      problem?: Problem | undefined;
      retrying: boolean;
      delay?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.problem = details.problem;
    this.retrying = details.retrying;
    this.delay = details.delay;
  }
}

/** Change types the stream's `event:` field may name (anything else is skipped). */
const CHANGE_TYPES: ReadonlySet<string> = new Set<ChangeType>([
  "created",
  "updated",
  "completed",
  "uncompleted",
  "trashed",
  "restored",
  "purged",
]);

/** An event's data as a change, or `undefined` when it is not one. */
function parseChange(data: string): Change | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { seq, type, at } = value as Record<string, unknown>;
  return typeof seq === "number" &&
    typeof type === "string" &&
    CHANGE_TYPES.has(type) &&
    typeof at === "string"
    ? (value as Change)
    : undefined;
}

/** Milliseconds of a `Retry-After` header (seconds or an HTTP date), or 0. */
function retryAfter(response: Response): number {
  const value = response.headers.get("retry-after")?.trim() ?? "";
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Calls a caller's callback; what it throws becomes an uncaught error, not ours. */
function callBack<Args extends unknown[]>(fn: ((...args: Args) => void) | undefined, ...args: Args) {
  if (fn === undefined) return;
  try {
    fn(...args);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/** Characters of one unfinished event the parser holds at most (a change is a few kB). */
const MAX_EVENT_CHARS = 8 * 1024 * 1024;

/**
 * The user's changes live, from `GET /api/{user_id}/events` (Server-Sent Events), through the
 * client: its base URL, its `fetch`, its middleware and so its bearer token (the token function
 * is called before every connection). A browser's `EventSource` cannot send `Authorization`,
 * so this reads the stream with `fetch` and parses it (`id:`, `event:`, `data:`, `:` comments,
 * any line ending, any chunking) with eventsource-parser. It works in browsers and Node ≥ 20.
 *
 * The connection is kept: when the stream ends (the server ends it when the token expires, and
 * at shutdown) or fails, it reconnects with backoff and `Last-Event-ID`, the id of the last event
 * received, and the server sends what was missed first, without a gap or a duplicate. A 401 is
 * retried twice (a token function may hand out a fresh token), 429, 5xx and network errors
 * always; 410 follows `options.gone`; any other error stops it.
 *
 * ```ts
 * const live = subscribe(api, userId, {
 *   since,                                        // from listAllChanges, or 0 for a snapshot
 *   onChange: (change) => apply(change),
 *   onError: (error) => console.warn(error.problem?.detail ?? error.message),
 * });
 * // later
 * live.close();
 * ```
 */
export function subscribe(
  client: TodoClient,
  userId: string,
  options: SubscribeOptions,
): ChangeSubscription {
  const stop = new AbortController();
  const close = () => stop.abort();
  const { signal } = options;
  if (signal?.aborted) {
    close();
  } else {
    signal?.addEventListener("abort", close, { once: true });
  }
  let lastEventId: string | undefined;
  let since = options.since;
  let firstDelay = options.retryDelay ?? 1000;
  const maxDelay = options.maxRetryDelay ?? 30_000;

  /** Whether the current connection brought anything (an event, a comment): it works. */
  let alive = false;

  /** Reads one connection's stream to its end; throws when it breaks. */
  async function read(body: ReadableStream<Uint8Array>): Promise<void> {
    let broken: Error | undefined;
    const deliver = (message: EventSourceMessage) => {
      alive = true;
      if (message.id !== undefined) {
        // The id of the last event received is where a reconnection resumes (an empty one
        // clears it, as in EventSource); `since` has served its purpose.
        lastEventId = message.id === "" ? undefined : message.id;
        since = undefined;
      }
      if (message.event !== undefined && !CHANGE_TYPES.has(message.event)) {
        return; // an event this client does not know: skipped, as EventSource would
      }
      const change = parseChange(message.data);
      if (change === undefined) {
        callBack(
          options.onError,
          new SubscriptionError(
            `todo-api-client: an event's data is not a change (skipped): ${message.data.slice(0, 200)}`,
            { retrying: true },
          ),
        );
        return;
      }
      callBack(options.onChange, change);
    };
    const parser = createParser({
      onEvent: deliver,
      onComment: () => {
        alive = true; // a keep-alive
      },
      onRetry: (ms) => {
        firstDelay = ms;
      },
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") broken = error;
        // Unknown fields and invalid `retry` values are ignored, as EventSource does.
      },
      maxBufferSize: MAX_EVENT_CHARS,
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text = decoder.decode(value, { stream: true });
        parser.feed(text);
        if (broken) throw broken;
      }
      // The parser holds a final CR until it sees whether an LF follows: at the end, none does.
      // An event without its closing blank line is dropped, as the SSE standard says.
      parser.feed(decoder.decode() + (text.endsWith("\r") ? "\n" : ""));
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  async function run(): Promise<SubscriptionError | undefined> {
    let failures = 0; // failed connections in a row
    let unauthorized = 0; // 401s in a row
    let resynced = false; // a 410 was answered with since=0 and no connection worked since
    const backoff = () => {
      const full = Math.min(maxDelay, firstDelay * 2 ** Math.min(failures, 30));
      failures += 1;
      return Math.round(full / 2 + (Math.random() * full) / 2);
    };
    /** Reports a failure to `onError`, with the wait before retrying when `retry`. */
    const fail = (
      message: string,
      details: { status?: number; problem?: Problem | undefined; cause?: unknown; wait?: number },
      retry: boolean,
    ): SubscriptionError => {
      const delay = retry ? Math.max(backoff(), details.wait ?? 0) : undefined;
      const error = new SubscriptionError(message, {
        status: details.status,
        problem: details.problem,
        cause: details.cause,
        retrying: retry,
        delay,
      });
      callBack(options.onError, error);
      return error;
    };

    while (!stop.signal.aborted) {
      let error: SubscriptionError | undefined;
      alive = false;
      try {
        const result = await client.GET("/api/{user_id}/events", {
          params: {
            path: { user_id: userId },
            query: lastEventId === undefined && since !== undefined ? { since } : {},
            header: lastEventId === undefined ? {} : { "Last-Event-ID": lastEventId },
          },
          headers: { Accept: "text/event-stream" },
          parseAs: "stream",
          signal: stop.signal,
        });
        const { response } = result;
        const type = response.headers.get("content-type") ?? "";
        if (response.ok && result.data && /^text\/event-stream\b/i.test(type)) {
          unauthorized = 0;
          resynced = false;
          callBack(options.onOpen, response);
          await read(result.data);
          // The stream ended (token expiry, server shutdown): reconnect, after the usual wait
          // when it had worked, after a longer one each time when it had not.
          if (alive) failures = 0;
          await sleep(backoff(), stop.signal);
          continue;
        }
        const status = response.status;
        const problem = readProblem(result.error);
        const detail = problem?.detail ?? `HTTP ${status}`;
        const what = `todo-api-client: GET /api/${userId}/events`;
        if (response.ok) {
          await result.data?.cancel().catch(() => {});
          const body = type || "without a body";
          return fail(`${what} answered ${status} ${body}, not an event stream`, { status }, false);
        }
        if (status === 410 && options.gone === "resync" && !resynced) {
          resynced = true;
          callBack(options.onResync, problem);
          lastEventId = undefined;
          since = 0;
          continue;
        }
        const retry =
          status === 408 || status === 429 || status >= 500 || (status === 401 && unauthorized++ < 2);
        error = fail(`${what}: ${detail}`, { status, problem, wait: retryAfter(response) }, retry);
      } catch (err) {
        if (stop.signal.aborted) break;
        if (alive) failures = 0; // it broke after working: not a failure in a row
        const why = err instanceof Error ? err.message : String(err);
        error = fail(`todo-api-client: the event stream failed: ${why}`, { cause: err }, true);
      }
      if (!error.retrying) return error;
      await sleep(error.delay ?? 0, stop.signal);
    }
    return undefined;
  }

  const closed = run().then(
    (error) => error,
    // Not expected (every failure is handled above); reported rather than lost.
    (err: unknown) =>
      new SubscriptionError(`todo-api-client: subscribe stopped: ${String(err)}`, {
        retrying: false,
        cause: err,
      }),
  );
  void closed.finally(() => {
    signal?.removeEventListener("abort", close);
    stop.abort();
  });

  return {
    close,
    get lastEventId() {
      return lastEventId;
    },
    closed,
  };
}
