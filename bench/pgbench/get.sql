-- GET /api/{user}/tasks/{id}: one of bench-a's ids (a contiguous range), LIMIT bound as a parameter (1).
\set id random(:id_lo, :id_hi)
SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at" FROM "tasks" WHERE (("tasks"."id" = :id) AND ("tasks"."user_id" = :user_a)) LIMIT :one;
