-- The SQLite twin of migrations/postgres/2026-12-04-000001_recurrence (see
-- its comments). The change triggers are made anew with the new columns.
ALTER TABLE tasks ADD COLUMN recur_rule   TEXT;
ALTER TABLE tasks ADD COLUMN recur_from   TEXT CHECK (recur_from IN ('due', 'completion'));
ALTER TABLE tasks ADD COLUMN recur_anchor TEXT CHECK ((recur_anchor IS NULL) = (recur_rule IS NULL));
ALTER TABLE tasks ADD COLUMN recur_done   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN reminders       TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN remind_at       TEXT;
ALTER TABLE tasks ADD COLUMN reminders_fired INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_remind_at ON tasks (remind_at) WHERE remind_at IS NOT NULL;

ALTER TABLE task_changes ADD COLUMN recur_rule  TEXT;
ALTER TABLE task_changes ADD COLUMN recur_from  TEXT;
ALTER TABLE task_changes ADD COLUMN reminders   TEXT NOT NULL DEFAULT '';
ALTER TABLE task_changes ADD COLUMN reminder_at TEXT;

DROP TRIGGER tasks_created;
DROP TRIGGER tasks_changed;
DROP TRIGGER tasks_purged;

CREATE TRIGGER tasks_created AFTER INSERT ON tasks WHEN NEW.version <> 0
BEGIN
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at, recur_rule, recur_from, reminders)
    VALUES (NEW.user_id, NEW.version, 'created', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        NEW.id, NEW.title, NEW.description, NEW.completed, NEW.created_at, NEW.updated_at,
        NEW.priority, NEW.tags, NEW.due_date, NEW.due_time, NEW.due_tz, NEW.due_at,
        NEW.version, NEW.trashed_at, NEW.recur_rule, NEW.recur_from, NEW.reminders);
END;

CREATE TRIGGER tasks_changed AFTER UPDATE ON tasks
    WHEN OLD.version IS NOT NEW.version AND NEW.version <> 0
BEGIN
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at, recur_rule, recur_from, reminders)
    VALUES (NEW.user_id, NEW.version,
        CASE
            WHEN OLD.trashed_at IS NULL AND NEW.trashed_at IS NOT NULL THEN 'trashed'
            WHEN OLD.trashed_at IS NOT NULL AND NEW.trashed_at IS NULL THEN 'restored'
            WHEN (OLD.completed <> NEW.completed OR NEW.recur_done > OLD.recur_done)
                AND OLD.title IS NEW.title AND OLD.description IS NEW.description
                AND OLD.priority IS NEW.priority AND OLD.tags IS NEW.tags
                AND OLD.recur_rule IS NEW.recur_rule AND OLD.recur_from IS NEW.recur_from
                AND OLD.reminders IS NEW.reminders
                AND (NEW.recur_done > OLD.recur_done
                     OR (OLD.due_date IS NEW.due_date AND OLD.due_time IS NEW.due_time
                         AND OLD.due_tz IS NEW.due_tz))
            THEN CASE WHEN NEW.completed OR NEW.recur_done > OLD.recur_done
                      THEN 'completed' ELSE 'uncompleted' END
            ELSE 'updated'
        END,
        strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        NEW.id, NEW.title, NEW.description, NEW.completed, NEW.created_at, NEW.updated_at,
        NEW.priority, NEW.tags, NEW.due_date, NEW.due_time, NEW.due_tz, NEW.due_at,
        NEW.version, NEW.trashed_at, NEW.recur_rule, NEW.recur_from, NEW.reminders);
END;

CREATE TRIGGER tasks_purged AFTER DELETE ON tasks
BEGIN
    UPDATE user_changes SET seq = seq + 1 WHERE user_id = OLD.user_id;
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at, recur_rule, recur_from, reminders)
    SELECT OLD.user_id, seq, 'purged', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        OLD.id, OLD.title, OLD.description, OLD.completed, OLD.created_at, OLD.updated_at,
        OLD.priority, OLD.tags, OLD.due_date, OLD.due_time, OLD.due_tz, OLD.due_at,
        OLD.version, OLD.trashed_at, OLD.recur_rule, OLD.recur_from, OLD.reminders
    FROM user_changes WHERE user_id = OLD.user_id;
END;

-- A fired reminder takes a change number of its own (its task was written
-- with reminders, so its owner's counter exists).
CREATE TRIGGER tasks_reminded AFTER UPDATE ON tasks
    WHEN OLD.version = NEW.version AND NEW.reminders_fired > OLD.reminders_fired
BEGIN
    UPDATE user_changes SET seq = seq + 1 WHERE user_id = NEW.user_id;
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at, recur_rule, recur_from, reminders, reminder_at)
    SELECT NEW.user_id, seq, 'reminder', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'),
        NEW.id, NEW.title, NEW.description, NEW.completed, NEW.created_at, NEW.updated_at,
        NEW.priority, NEW.tags, NEW.due_date, NEW.due_time, NEW.due_tz, NEW.due_at,
        NEW.version, NEW.trashed_at, NEW.recur_rule, NEW.recur_from, NEW.reminders,
        OLD.remind_at
    FROM user_changes WHERE user_id = NEW.user_id;
END;
