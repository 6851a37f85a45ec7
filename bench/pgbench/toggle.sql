-- PATCH /api/{user}/tasks/{id}/complete (no body) on one of bench-a's ids: the server's statement, verbatim
-- (even its double space). The server binds its clock as updated_at, so every toggle changes an indexed
-- column and PostgreSQL cannot use a HOT update. pgbench has no clock, and a constant would make the
-- updates HOT (cheaper), so updated_at is bound as a date 'YYYYMMDD' that moves on by one day with each
-- toggle of the client (a per-client counter, interleaved across clients): always a new value.
\set id random(:id_lo, :id_hi)
\set tick :tick + 1
\set n :tick * :clients + :client_id
\set day (2026 + :n / 336) * 10000 + ((:n / 28) % 12 + 1) * 100 + :n % 28 + 1
UPDATE "tasks" SET "completed" =  NOT ("tasks"."completed"), "updated_at" = :day WHERE (("tasks"."id" = :id) AND ("tasks"."user_id" = :user_a)) RETURNING "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at";
