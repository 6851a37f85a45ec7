// A frontend's lib/api.ts, as the client's README shows it. Type-checked with each
// tsconfig.*.json here: the types must come from the installed package, and be the real ones
// (each @ts-expect-error below fails the check if they were `any`).
import {
  createTodoClient,
  fieldErrors,
  idempotencyKey,
  ifMatch,
  listAllChanges,
  listAllTasks,
  readProblem,
  subscribe,
  type Change,
  type ChangeSubscription,
  type Task,
  type TodoClient,
} from "todo-api-client";

// Next.js inlines NEXT_PUBLIC_* at build time; declared here so no @types/node is needed.
declare const process: { env: Record<string, string | undefined> };

export const api: TodoClient = createTodoClient({
  baseUrl: process.env.NEXT_PUBLIC_API_URL!,
  token: async () => "a token from Better Auth",
});

export async function pendingTitles(userId: string): Promise<string[]> {
  const { data, error } = await api.GET("/api/{user_id}/tasks", {
    params: { path: { user_id: userId }, query: { status: "pending", sort: "title", order: "asc" } },
  });
  if (error) {
    throw new Error(readProblem(error)?.detail ?? "Something went wrong");
  }
  const tasks: Task[] = data;
  return tasks.map((task) => task.title);
}

export async function homeTasksByPriority(userId: string): Promise<Task[]> {
  // Every page, following the `Link: <…>; rel="next"` headers.
  const { data, error } = await listAllTasks(api, userId, { tag: ["home"], sort: "priority,due", limit: 100 });
  if (error) {
    throw new Error(readProblem(error)?.detail ?? "Something went wrong");
  }
  return data;
}

export async function create(userId: string, title: string): Promise<Record<string, string[]>> {
  const created = await api.POST("/api/{user_id}/tasks", {
    params: { path: { user_id: userId } },
    body: { title, description: null },
  });
  return created.error ? fieldErrors(created.error) : {};
}

/** Renames the task as the user saw it; a task someone else changed meanwhile is not touched. */
export async function rename(userId: string, task: Task, title: string): Promise<Task | string> {
  const { data, error, response } = await api.PUT("/api/{user_id}/tasks/{id}", {
    params: { path: { user_id: userId, id: task.id } },
    headers: { ...ifMatch(task), ...idempotencyKey() },
    body: { title },
  });
  if (response.status === 412) {
    return `changed meanwhile (now ${response.headers.get("ETag")}): ${readProblem(error)?.detail}`;
  }
  if (error) {
    throw new Error(readProblem(error)?.detail ?? "Something went wrong");
  }
  return data;
}

/**
 * A live copy of the user's tasks, as the client's README keeps one: the change feed's snapshot,
 * then the event stream from where it ended. `render` gets the copy after every change.
 */
export async function liveTasks(
  userId: string,
  render: (tasks: Task[]) => void,
  signal: AbortSignal,
): Promise<ChangeSubscription> {
  const tasks = new Map<number, Task>();
  const apply = (change: Change) => {
    if (change.type === "purged") tasks.delete(change.task_id!);
    else if (change.task) tasks.set(change.task.id, change.task);
  };
  const { data, since, error } = await listAllChanges(api, userId, {}, { signal });
  if (error) {
    throw new Error(readProblem(error)?.detail ?? "Something went wrong");
  }
  data.forEach(apply);
  render([...tasks.values()]);
  return subscribe(api, userId, {
    since,
    signal,
    gone: "resync",
    onResync: () => tasks.clear(),
    onChange: (change) => {
      apply(change);
      render([...tasks.values()]);
    },
    onError: (err) => console.warn(err.problem?.detail ?? err.message, err.retrying ? "(reconnecting)" : ""),
  });
}

export async function mistakes(userId: string): Promise<void> {
  // @ts-expect-error "restart" is not what subscribe does on 410: "stop" or "resync"
  subscribe(api, userId, { gone: "restart", onChange: () => {} });
  // @ts-expect-error a change's type is one of the contract's
  const typo: Change["type"] = "deleted";
  void typo;
  // @ts-expect-error "done" is not a status filter of the contract
  await api.GET("/api/{user_id}/tasks", { params: { path: { user_id: userId }, query: { status: "done" } } });
  // @ts-expect-error no such route
  await api.GET("/api/{user_id}/todos", { params: { path: { user_id: userId } } });
  // @ts-expect-error "urgent" is not a priority of the contract
  await listAllTasks(api, userId, { priority: ["urgent"] });
  // @ts-expect-error the task id is a number
  await api.GET("/api/{user_id}/tasks/{id}", { params: { path: { user_id: userId, id: "1" } } });
  // @ts-expect-error reading a task takes If-None-Match, not If-Match
  await api.GET("/api/{user_id}/tasks/{id}", { params: { path: { user_id: userId, id: 1 }, header: ifMatch({ version: 1 }) } });
}
