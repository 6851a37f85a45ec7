-- GET /api/{user}/tasks?limit=50 for bench-a (50 tasks): the server's statement verbatim
-- (src/db/tasks/hot.rs), LIMIT 51 (one more row says whether a next page exists). It leaves out
-- trashed tasks and reads the owner's last change number with the rows, for the ETag: a subquery
-- on user_changes (an InitPlan, run once).
SELECT id, title, description, completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz, due_at, version, trashed_at, recur_rule, recur_from, reminders, (SELECT seq FROM user_changes WHERE user_changes.user_id = :user_a) FROM tasks WHERE user_id = :user_a AND trashed_at IS NULL ORDER BY created_at DESC, id DESC LIMIT :page50;
