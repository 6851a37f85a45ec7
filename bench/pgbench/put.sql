-- PUT /api/{user}/tasks/{id} with {"title": …} on bench-a, no If-Match: the server's statement (a
-- partial update sets the title, its folded copy, updated_at and the version; the WHERE as toggle's),
-- with toggle's one difference (updated_at from a counter: pgbench has no clock). As the put workload
-- never has two requests on one task, each client works on a task of its own (bench-a has 50: at most
-- 50 clients); all of them still take turns on the owner's user_changes row. The RETURNING row is read
-- into variables (\gset, as putifmatch.sql does to learn the next version), so an UPDATE that found no
-- row would stop the client instead of passing unnoticed.
\set id :id_lo + mod(:client_id, 50)
\set tick :tick + 1
\set n :tick * :clients + :client_id
UPDATE "tasks" SET "title" = :put_title, "title_folded" = :put_title_folded, "updated_at" = to_timestamp(:epoch + :n / 1000000.0), "version" = next_change(:user_a) WHERE ((("tasks"."id" = :id) AND (("tasks"."user_id" = :user_a) AND ("tasks"."trashed_at" IS NULL))) AND (("tasks"."version" = ANY(:no_versions)) OR :unconditional)) RETURNING "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders" \gset p_
