-- GET /api/{user}/tasks for bench-big (10 000 tasks): the server's statement, verbatim. The contract's
-- default (and largest) page is 500 tasks, bound as LIMIT 501: the newest 501 rows of 10 000, not all.
-- Since 1.2 every listing leaves out trashed tasks (trashed_at IS NULL) and reads the owner's last
-- change number with the rows, for the ETag: a subquery on user_changes (an InitPlan, run once).
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders", (SELECT seq FROM user_changes WHERE user_id = :user_big) FROM "tasks" WHERE (("tasks"."user_id" = :user_big) AND ("tasks"."trashed_at" IS NULL)) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT :page;
