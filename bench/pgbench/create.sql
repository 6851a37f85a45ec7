-- POST /api/{user}/tasks for bench-b (title and description only, as the create workload sends): the
-- server's statement, verbatim but for six parameters. bench/run sets no MAX_TASKS_PER_USER, so the
-- server sends a plain INSERT … SELECT (with a limit it adds WHERE NOT EXISTS (the user's max-th
-- task), an index probe that stops there).
-- Both timestamps are the run's start time (pgbench has no clock; the server binds its own now()): new
-- rows still go to the end of bench-b's (user_id, created_at, id) index range, as the server's do.
-- The server binds no tags as '' and the five due columns as NULLs; pgbench can bind neither an empty
-- string nor a NULL, so those six are literals here (the same values; the same plan). The folded title
-- and description are what the server's fold() (NFC, lower case) makes of the texts, for search.
INSERT INTO "tasks" ("user_id", "title", "description", "completed", "created_at", "updated_at", "priority", "tags", "due_date", "due_time", "due_tz", "due_at", "due_key", "title_folded", "description_folded") SELECT :user_b, :title, :description, :completed, :ts, :ts, :zero, '', NULL, NULL, NULL, NULL, NULL, :title_folded, :description_folded RETURNING "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at";
