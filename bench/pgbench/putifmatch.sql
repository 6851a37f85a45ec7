-- PUT /api/{user}/tasks/{id} with {"title": …} and an If-Match that holds: put.sql's statement with the
-- condition the server binds for If-Match: "<version>", a one-version list and false. Each client works on
-- a task of its own and sends the version its previous UPDATE returned (\gset): a condition that failed
-- would find no row, and \gset would stop the client. Two differences from the server: the version list is
-- ARRAY[:p_version::bigint] where the server binds a bigint[] ('{8}'), since pgbench cannot build that text from a
-- number (the same plan: a filter on the one row the primary key finds); and a client's first UPDATE,
-- which has no version yet, passes :first (true) instead of false, the same statement.
\set id :id_lo + mod(:client_id, 50)
\set tick :tick + 1
\set n :tick * :clients + :client_id
\set first :p_version < 0
UPDATE "tasks" SET "title" = :put_title, "title_folded" = :put_title_folded, "updated_at" = to_timestamp(:epoch + :n / 1000000.0), "version" = next_change(:user_a) WHERE ((("tasks"."id" = :id) AND (("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL))) AND (("tasks"."version" = ANY(ARRAY[:p_version::bigint])) OR :first)) RETURNING "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders" \gset p_
