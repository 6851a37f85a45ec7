DROP TABLE idempotency_keys;
DROP INDEX tasks_trashed;
DROP INDEX tasks_owner_trashed;
ALTER TABLE tasks DROP COLUMN trashed_at;
ALTER TABLE tasks DROP COLUMN version;
DROP TABLE user_changes;
