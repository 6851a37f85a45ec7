-- GET /api/{user}/tasks?tag=home for bench-a (50 tasks, 15 tagged home): the server's statement, verbatim.
-- Tags are stored sorted between commas (',home,work,'): "has the tag" is strpos(tags, ',home,') > 0,
-- with the needle and the 0 bound as parameters, then the default page (LIMIT 501).
-- Since 1.2 every listing leaves out trashed tasks (trashed_at IS NULL) and reads the owner's last
-- change number with the rows, for the ETag: a subquery on user_changes (an InitPlan, run once).
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders", (SELECT seq FROM user_changes WHERE user_id = :user_a) FROM "tasks" WHERE ((("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL)) AND (strpos("tasks"."tags", :tag_needle) > :zero)) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT :page;
