-- GET /api/{user}/tasks for bench-a (50 tasks): the server's statement, verbatim.
SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at" FROM "tasks" WHERE ("tasks"."user_id" = :user_a) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC;
