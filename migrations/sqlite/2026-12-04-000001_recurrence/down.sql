DROP TRIGGER tasks_reminded;
DROP TRIGGER tasks_created;
DROP TRIGGER tasks_changed;
DROP TRIGGER tasks_purged;
DROP INDEX tasks_remind_at;
ALTER TABLE task_changes DROP COLUMN reminder_at;
ALTER TABLE task_changes DROP COLUMN reminders;
ALTER TABLE task_changes DROP COLUMN recur_from;
ALTER TABLE task_changes DROP COLUMN recur_rule;
ALTER TABLE tasks DROP COLUMN reminders_fired;
ALTER TABLE tasks DROP COLUMN remind_at;
ALTER TABLE tasks DROP COLUMN reminders;
ALTER TABLE tasks DROP COLUMN recur_done;
ALTER TABLE tasks DROP COLUMN recur_anchor;
ALTER TABLE tasks DROP COLUMN recur_from;
ALTER TABLE tasks DROP COLUMN recur_rule;
-- Back to the 1.3 triggers.
CREATE TRIGGER tasks_created AFTER INSERT ON tasks WHEN NEW.version <> 0
BEGIN
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at)
    VALUES (NEW.user_id, NEW.version, 'created', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        NEW.id, NEW.title, NEW.description, NEW.completed, NEW.created_at, NEW.updated_at,
        NEW.priority, NEW.tags, NEW.due_date, NEW.due_time, NEW.due_tz, NEW.due_at,
        NEW.version, NEW.trashed_at);
END;

CREATE TRIGGER tasks_changed AFTER UPDATE ON tasks
    WHEN OLD.version IS NOT NEW.version AND NEW.version <> 0
BEGIN
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at)
    VALUES (NEW.user_id, NEW.version,
        CASE
            WHEN OLD.trashed_at IS NULL AND NEW.trashed_at IS NOT NULL THEN 'trashed'
            WHEN OLD.trashed_at IS NOT NULL AND NEW.trashed_at IS NULL THEN 'restored'
            WHEN OLD.completed <> NEW.completed
                AND OLD.title IS NEW.title AND OLD.description IS NEW.description
                AND OLD.priority IS NEW.priority AND OLD.tags IS NEW.tags
                AND OLD.due_date IS NEW.due_date AND OLD.due_time IS NEW.due_time
                AND OLD.due_tz IS NEW.due_tz
            THEN CASE WHEN NEW.completed THEN 'completed' ELSE 'uncompleted' END
            ELSE 'updated'
        END,
        strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        NEW.id, NEW.title, NEW.description, NEW.completed, NEW.created_at, NEW.updated_at,
        NEW.priority, NEW.tags, NEW.due_date, NEW.due_time, NEW.due_tz, NEW.due_at,
        NEW.version, NEW.trashed_at);
END;

-- A purge takes a change number of its own here (every purged task was
-- trashed first, so its owner's counter exists).
CREATE TRIGGER tasks_purged AFTER DELETE ON tasks
BEGIN
    UPDATE user_changes SET seq = seq + 1 WHERE user_id = OLD.user_id;
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at)
    SELECT OLD.user_id, seq, 'purged', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        OLD.id, OLD.title, OLD.description, OLD.completed, OLD.created_at, OLD.updated_at,
        OLD.priority, OLD.tags, OLD.due_date, OLD.due_time, OLD.due_tz, OLD.due_at,
        OLD.version, OLD.trashed_at
    FROM user_changes WHERE user_id = OLD.user_id;
END;
