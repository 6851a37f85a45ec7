DROP TRIGGER tasks_purged ON tasks;
DROP TRIGGER tasks_changed ON tasks;
DROP TRIGGER tasks_created ON tasks;
DROP FUNCTION record_task_change();
ALTER TABLE user_changes DROP COLUMN kept_after;
DROP TABLE task_changes;
