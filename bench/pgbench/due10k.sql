-- GET /api/{user}/tasks?sort=due&limit=50 for bench-big (10 000 tasks, 60 % with a due date): the
-- server's statement, verbatim. Due soonest first, tasks without one last, id as the tie-breaker in the
-- first key's direction; limit 50 is LIMIT 51 (one more row says whether a next page exists).
-- Since 1.2 every listing leaves out trashed tasks (trashed_at IS NULL) and reads the owner's last
-- change number with the rows, for the ETag: a subquery on user_changes (an InitPlan, run once).
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders", (SELECT seq FROM user_changes WHERE user_id = :user_big) FROM "tasks" WHERE (("tasks"."user_id" = :user_big) AND ("tasks"."trashed_at" IS NULL)) ORDER BY "tasks"."due_key" ASC NULLS LAST, "tasks"."id" ASC LIMIT :page50;
