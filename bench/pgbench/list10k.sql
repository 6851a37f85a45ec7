-- GET /api/{user}/tasks for bench-big (10 000 tasks): the server's statement, verbatim.
SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at" FROM "tasks" WHERE ("tasks"."user_id" = :user_big) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC;
