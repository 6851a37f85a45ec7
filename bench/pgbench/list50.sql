-- GET /api/{user}/tasks for bench-a (50 tasks): the server's statement, verbatim, with its bound
-- parameters. No limit asked: the contract's default page of 500 is LIMIT 501 (one more row says
-- whether a next page exists); bench-a has 50 tasks, so all 50 come back.
-- Since 1.2 every listing leaves out trashed tasks (trashed_at IS NULL) and reads the owner's last
-- change number with the rows, for the ETag: a subquery on user_changes (an InitPlan, run once).
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", (SELECT seq FROM user_changes WHERE user_id = :user_a) FROM "tasks" WHERE (("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL)) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT :page;
