DROP TABLE idempotency_keys;
DROP INDEX tasks_trashed;
DROP INDEX tasks_owner_trashed;
ALTER TABLE tasks DROP COLUMN trashed_at, DROP COLUMN version;
DROP FUNCTION lock_changes(TEXT);
DROP FUNCTION next_change(TEXT);
DROP TABLE user_changes;
