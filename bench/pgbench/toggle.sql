-- PATCH /api/{user}/tasks/{id}/complete (no body) on one of bench-a's ids: the server's statement, with
-- one difference. The server binds its clock as updated_at: every toggle changes an indexed column (no HOT
-- update) and the new index entry goes to the right end of bench-a's (user_id, updated_at, id) range,
-- where all concurrent toggles insert. pgbench has no clock, so updated_at is computed from a counter
-- that grows by one microsecond per toggle across clients (n = tick * clients + client_id) from the run's
-- start (:epoch): the same always-new, always-rightmost values, for the cost of one to_timestamp().
-- Since 1.2: the version is next_change(owner) (the upsert of the owner's user_changes row, locked until
-- commit), trashed tasks are left out, and If-Match is a condition of the WHERE, one shape for every
-- case; without If-Match, as here, the server binds an empty version list and true: ANY('{}') OR true.
\set id random(:id_lo, :id_hi)
\set tick :tick + 1
\set n :tick * :clients + :client_id
UPDATE "tasks" SET "completed" =  NOT ("tasks"."completed"), "updated_at" = to_timestamp(:epoch + :n / 1000000.0), "version" = next_change(:user_a) WHERE ((("tasks"."id" = :id) AND (("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL))) AND (("tasks"."version" = ANY(:no_versions)) OR :unconditional)) RETURNING "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders";
