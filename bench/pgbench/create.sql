-- POST /api/{user}/tasks for bench-b: the server's statement, verbatim, with its six bound parameters.
-- Both timestamps are the run's start time (pgbench has no clock; the server binds its own now()): new
-- rows still go to the end of bench-b's (user_id, created_at, id) index range, as the server's do.
INSERT INTO "tasks" ("user_id", "title", "description", "completed", "created_at", "updated_at") VALUES (:user_b, :title, :description, :completed, :ts, :ts) RETURNING "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at";
