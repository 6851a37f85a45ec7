DROP TRIGGER tasks_purged ON tasks;
DROP TRIGGER tasks_changed ON tasks;
DROP TRIGGER tasks_created ON tasks;
DROP FUNCTION record_task_change();
DROP TABLE change_listeners;
ALTER TABLE user_changes DROP COLUMN kept_after;
DROP TABLE task_changes;
