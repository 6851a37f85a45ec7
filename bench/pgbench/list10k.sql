-- GET /api/{user}/tasks for bench-big (10 000 tasks): the server's statement, verbatim. The contract's
-- default (and largest) page is 500 tasks, bound as LIMIT 501: the newest 501 rows of 10 000, not all.
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at" FROM "tasks" WHERE ("tasks"."user_id" = :user_big) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT :page;
