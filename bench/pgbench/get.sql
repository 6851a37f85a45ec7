-- GET /api/{user}/tasks/{id}: one of bench-a's ids (a contiguous range). The server's statement
-- verbatim (src/db/tasks/hot.rs, prepared on its shared read connections; bench/instructions.py
-- checks that PostgreSQL logs the same text from the server).
\set id random(:id_lo, :id_hi)
SELECT id, title, description, completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz, due_at, version, trashed_at, recur_rule, recur_from, reminders FROM tasks WHERE id = :id AND user_id = :user_a AND trashed_at IS NULL;
