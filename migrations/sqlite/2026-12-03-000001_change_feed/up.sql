-- The SQLite twin of migrations/postgres/2026-12-03-000001_change_feed (see
-- its comments). Triggers write the change rows in the write's own
-- transaction; the server wakes its own streams after COMMIT (no NOTIFY here).
CREATE TABLE task_changes (
    user_id     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    task_id     INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    completed   BOOLEAN NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    priority    INTEGER NOT NULL,
    tags        TEXT    NOT NULL,
    due_date    TEXT,
    due_time    TEXT,
    due_tz      TEXT,
    due_at      TEXT,
    version     INTEGER NOT NULL,
    trashed_at  TEXT,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE INDEX task_changes_at ON task_changes (at);

ALTER TABLE user_changes ADD COLUMN kept_after INTEGER NOT NULL DEFAULT 0;

-- The database's clock as diesel writes timestamps ('%F %T%.f%:z').
-- Rows written without a change number (version 0) are no change.
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
