-- GET /api/{user}/tasks/{id}: one of bench-a's ids (a contiguous range), LIMIT bound as a parameter (1).
-- Since 1.2 it reads the version (the ETag) and trashed_at too, and only a live task (trashed_at IS NULL).
\set id random(:id_lo, :id_hi)
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at" FROM "tasks" WHERE (("tasks"."id" = :id) AND (("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL))) LIMIT :one;
