DROP TRIGGER tasks_reminded ON tasks;
-- Back to the 1.3 function.
CREATE OR REPLACE FUNCTION record_task_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    t           tasks;
    change_kind TEXT;
    change_seq  BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- The purge statement locked the counter first (lock_changes).
        t := OLD;
        change_kind := 'purged';
        change_seq := next_change(OLD.user_id);
    ELSE
        t := NEW;
        change_seq := NEW.version;
        IF TG_OP = 'INSERT' THEN
            change_kind := 'created';
        ELSIF OLD.trashed_at IS NULL AND NEW.trashed_at IS NOT NULL THEN
            change_kind := 'trashed';
        ELSIF OLD.trashed_at IS NOT NULL AND NEW.trashed_at IS NULL THEN
            change_kind := 'restored';
        ELSIF OLD.completed <> NEW.completed
            AND (OLD.title, OLD.description, OLD.priority, OLD.tags,
                 OLD.due_date, OLD.due_time, OLD.due_tz)
                IS NOT DISTINCT FROM
                (NEW.title, NEW.description, NEW.priority, NEW.tags,
                 NEW.due_date, NEW.due_time, NEW.due_tz) THEN
            change_kind := CASE WHEN NEW.completed THEN 'completed' ELSE 'uncompleted' END;
        ELSE
            change_kind := 'updated';
        END IF;
    END IF;
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at)
    VALUES (t.user_id, change_seq, change_kind, statement_timestamp(), t.id, t.title,
        t.description, t.completed, t.created_at, t.updated_at, t.priority,
        t.tags, t.due_date, t.due_time, t.due_tz, t.due_at, t.version,
        t.trashed_at);
    -- A wake-up for the instances listening (delivered at COMMIT, never for
    -- a write that rolls back; repeats within a transaction are folded into
    -- one). It carries only the owner: listeners re-read the table. This
    -- query sees the listeners committed until now (a function's statements
    -- each take a fresh snapshot); one that registers between it and this
    -- write's commit re-reads after registering.
    IF EXISTS (SELECT 1 FROM change_listeners
               WHERE seen_at > statement_timestamp() - interval '90 seconds') THEN
        PERFORM pg_notify('todo_api_changes', t.user_id);
    END IF;
    RETURN NULL;
END
$$;
ALTER TABLE task_changes DROP COLUMN reminder_at;
ALTER TABLE task_changes DROP COLUMN reminders;
ALTER TABLE task_changes DROP COLUMN recur_from;
ALTER TABLE task_changes DROP COLUMN recur_rule;
DROP INDEX tasks_remind_at;
ALTER TABLE tasks DROP CONSTRAINT tasks_recurrence_whole;
ALTER TABLE tasks DROP COLUMN reminders_fired;
ALTER TABLE tasks DROP COLUMN remind_at;
ALTER TABLE tasks DROP COLUMN reminders;
ALTER TABLE tasks DROP COLUMN recur_done;
ALTER TABLE tasks DROP COLUMN recur_anchor;
ALTER TABLE tasks DROP COLUMN recur_from;
ALTER TABLE tasks DROP COLUMN recur_rule;
