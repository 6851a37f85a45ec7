-- GET /api/{user}/tasks?search=passport for bench-big (10 000 tasks, 106 match): the server's statement,
-- verbatim. The server folds the search text (NFC, lower case) and compares it with the folded title and
-- description it wrote: strpos(folded, needle) > 0 on either, each with its own bound parameters.
-- Since 1.2 every listing leaves out trashed tasks (trashed_at IS NULL) and reads the owner's last
-- change number with the rows, for the ETag: a subquery on user_changes (an InitPlan, run once).
SELECT "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders", (SELECT seq FROM user_changes WHERE user_id = :user_big) FROM "tasks" WHERE ((("tasks"."user_id" = :user_big) AND ("tasks"."trashed_at" IS NULL)) AND ((strpos("tasks"."title_folded", :search) > :zero) OR (strpos("tasks"."description_folded", :search) > :zero))) ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT :page;
