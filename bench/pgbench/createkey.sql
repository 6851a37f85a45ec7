-- POST /api/{user}/tasks for bench-b with a new Idempotency-Key: the server's transaction of six
-- statements, verbatim but for create.sql's literals. BEGIN; the key's transaction-scoped advisory lock
-- (the server's number is 64 bits of SHA-256 of owner and key; here pgbench's hash() of the key); the
-- lookup of a stored outcome (none: every key is new); create.sql's INSERT; the response stored under the
-- key (an upsert binding every value twice, as diesel sends it); COMMIT.
-- The key is a number unique per client and transaction (pgbench cannot build text): 19 digits, where
-- the API's are ~30 characters. The stored response is one the server stored for such a create: a
-- 315-byte JSON body (bytea), its four headers (128 bytes of text) and a 32-byte fingerprint. pgbench has
-- no clock: created_at is the run's start time and the lookup's cut-off a day before it.
\set k :k + 1
\set key 1000000000000000000 + :client_id * 1000000000000 + :k
\set lock hash(:key)
BEGIN;
SELECT pg_try_advisory_xact_lock(:lock);
SELECT "idempotency_keys"."fingerprint", "idempotency_keys"."status", "idempotency_keys"."headers", "idempotency_keys"."body" FROM "idempotency_keys" WHERE ((("idempotency_keys"."user_id" = :user_b) AND ("idempotency_keys"."key" = :key)) AND ("idempotency_keys"."created_at" >= :kept_since)) LIMIT :one;
INSERT INTO "tasks" ("user_id", "title", "description", "completed", "created_at", "updated_at", "priority", "tags", "due_date", "due_time", "due_tz", "due_at", "due_key", "title_folded", "description_folded", "version") SELECT :user_b, :title, :description, :completed, :ts, :ts, :zero, '', NULL, NULL, NULL, NULL, NULL, :title_folded, :description_folded, next_change(:user_b) RETURNING "tasks"."id", "tasks"."title", "tasks"."description", "tasks"."completed", "tasks"."created_at", "tasks"."updated_at", "tasks"."priority", "tasks"."tags", "tasks"."due_date", "tasks"."due_time", "tasks"."due_tz", "tasks"."due_at", "tasks"."version", "tasks"."trashed_at", "tasks"."recur_rule", "tasks"."recur_from", "tasks"."reminders";
INSERT INTO "idempotency_keys" ("user_id", "key", "fingerprint", "status", "headers", "body", "created_at") VALUES (:user_b, :key, :fingerprint, :status, :stored_headers, :stored_body, :ts) ON CONFLICT ("user_id", "key") DO UPDATE SET "fingerprint" = :fingerprint, "status" = :status, "headers" = :stored_headers, "body" = :stored_body, "created_at" = :ts;
COMMIT;
