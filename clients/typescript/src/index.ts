/**
 * Typed client for todo-api.
 *
 * The types come from `./generated/schema.ts`, which openapi-typescript generates from the
 * committed contract (`openapi.yaml`); the runtime is openapi-fetch. This file only adds the
 * bearer token and friendly names: nothing here re-declares a shape of the contract.
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
