-- GET /api/{user}/tasks/{id}: one of bench-a's ids (a contiguous range), LIMIT bound as a parameter (1).
\set id random(:id_lo, :id_hi)
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at" FROM "tasks" WHERE (("tasks"."id" = :id) AND ("tasks"."user_id" = :user_a)) LIMIT :one;
