DROP TRIGGER tasks_purged;
DROP TRIGGER tasks_changed;
DROP TRIGGER tasks_created;
ALTER TABLE user_changes DROP COLUMN kept_after;
DROP TABLE task_changes;
