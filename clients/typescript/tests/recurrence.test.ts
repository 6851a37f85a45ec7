// Recurring tasks and reminders of a RUNNING todo-api (contract 1.4), through the generated
// client: a weekly task is created, completed, and its next due read back; the occurrences
// preview agrees with it; a reminder comes back with the instant it is for. Needs
// TODO_API_URL, TODO_API_USER and TODO_API_TOKEN (as client.test.ts); without them every
// test here fails.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it, test } from "node:test";
import { createTodoClient, type Task, type TaskDue, type TaskRecurrence } from "../src/index.js";

const NAMES = ["TODO_API_URL", "TODO_API_USER", "TODO_API_TOKEN"] as const;
const missing = NAMES.filter((name) => !process.env[name]);

if (missing.length > 0) {
  test("the server to test against is configured", () => {
    assert.fail(`${missing.join(", ")} not set: this test drives a running todo-api`);
  });
} else {
  const baseUrl = process.env["TODO_API_URL"] ?? "";
  const user = process.env["TODO_API_USER"] ?? "";
  const token = process.env["TODO_API_TOKEN"] ?? "";
  const client = createTodoClient({ baseUrl, token });
  const title = `ts-recurrence ${randomUUID().slice(0, 8)}`;

  describe("a weekly task", () => {
    it("moves to its next occurrence when completed, in its own time zone", async () => {
      const weekly: TaskRecurrence = { rrule: "FREQ=WEEKLY;BYDAY=MO,TH", repeat_from: "due" };
      const created = await client.POST("/api/{user_id}/tasks", {
        params: { path: { user_id: user } },
        body: {
          title,
          due: { datetime: "2026-10-29T08:00", time_zone: "America/New_York" },
          recurrence: weekly,
          reminders: [{ before: "PT15M" }],
        },
      });
      assert.equal(created.response.status, 201, JSON.stringify(created.error));
      const task: Task = created.data!;
      assert.deepEqual(task.recurrence, weekly);
      assert.deepEqual(task.reminders, [{ before: "PT15M", at: "2026-10-29T11:45:00.000000Z" }]);

      // Thursday 29 October (EDT) → Monday 2 November, after New York's fall back (EST).
      const done = await client.PATCH("/api/{user_id}/tasks/{id}/complete", {
        params: { path: { user_id: user, id: task.id } },
      });
      assert.equal(done.response.status, 200, JSON.stringify(done.error));
      const next = done.data!;
      assert.equal(next.id, task.id);
      assert.equal(next.completed, false);
      assert.equal(next.due?.datetime, "2026-11-02T08:00:00");
      assert.equal(next.due?.at, "2026-11-02T13:00:00.000000Z");
      assert.equal(next.reminders[0]?.at, "2026-11-02T12:45:00.000000Z");

      const read = await client.GET("/api/{user_id}/tasks/{id}", {
        params: { path: { user_id: user, id: task.id } },
      });
      assert.deepEqual(read.data?.due, next.due);

      const preview = await client.GET("/api/{user_id}/tasks/{id}/occurrences", {
        params: { path: { user_id: user, id: task.id }, query: { limit: 3 } },
      });
      assert.equal(preview.response.status, 200, JSON.stringify(preview.error));
      const dates = (preview.data ?? []).map((due: TaskDue) => due.date);
      assert.deepEqual(dates, ["2026-11-02", "2026-11-05", "2026-11-09"]);
    });

    it("refuses a rule more often than daily with a 422 naming recurrence.rrule", async () => {
      const refused = await client.POST("/api/{user_id}/tasks", {
        params: { path: { user_id: user } },
        body: { title, due: { date: "2027-01-01" }, recurrence: { rrule: "FREQ=HOURLY" } },
      });
      assert.equal(refused.response.status, 422);
      assert.deepEqual(
        refused.error?.errors?.map((problem) => problem.field),
        ["recurrence.rrule"],
      );
    });
  });
}
