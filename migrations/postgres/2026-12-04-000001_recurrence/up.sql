-- 1.4: recurring tasks and reminders.
--
-- A recurring task keeps its rule (an RFC 5545 RRULE without DTSTART, as
-- the server accepted it), what it repeats from, the wall-clock time the
-- current occurrence had before any DST normalisation (so 02:30 stays 02:30
-- after a day whose 02:30 did not exist) and how many occurrences have been
-- completed since the rule or the due was last set (for COUNT).
ALTER TABLE tasks ADD COLUMN recur_rule   TEXT;
ALTER TABLE tasks ADD COLUMN recur_from   TEXT CHECK (recur_from IN ('due', 'completion'));
ALTER TABLE tasks ADD COLUMN recur_anchor TIMESTAMP;
ALTER TABLE tasks ADD COLUMN recur_done   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD CONSTRAINT tasks_recurrence_whole CHECK (
    (recur_rule IS NULL) = (recur_from IS NULL)
    AND (recur_rule IS NULL) = (recur_anchor IS NULL)
    AND (recur_rule IS NULL OR due_date IS NOT NULL));
-- Reminders as the server wrote them: comma-separated, each a duration
-- before the due (`PT15M`) or an instant (`2026-12-01T08:00:00Z`). The next
-- moment one of them is still to fire (NULL when none is), and how many have
-- fired: the reminder poller moves `remind_at` on and counts here, which
-- writes the `reminder` change (below) without changing the task's version.
ALTER TABLE tasks ADD COLUMN reminders       TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN remind_at       TIMESTAMPTZ;
ALTER TABLE tasks ADD COLUMN reminders_fired INTEGER NOT NULL DEFAULT 0;
-- The poller's probe: the reminders due now, soonest first.
CREATE INDEX tasks_remind_at ON tasks (remind_at) WHERE remind_at IS NOT NULL;

ALTER TABLE task_changes ADD COLUMN recur_rule  TEXT;
ALTER TABLE task_changes ADD COLUMN recur_from  TEXT;
ALTER TABLE task_changes ADD COLUMN reminders   TEXT NOT NULL DEFAULT '';
-- For a `reminder` change: the moment that reminder was set for.
ALTER TABLE task_changes ADD COLUMN reminder_at TIMESTAMPTZ;

-- The 1.3 function, with the new columns and two kinds: an occurrence of a
-- recurring task completed (the task advanced: `recur_done` grew and nothing
-- but the due and completion changed) is `completed`; a fired reminder (the
-- count grew, the version did not) is `reminder`, under a change number of
-- its own, like a purge (the poller locked the counter first).
CREATE OR REPLACE FUNCTION record_task_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    t           tasks;
    change_kind TEXT;
    change_seq  BIGINT;
    fired_for   TIMESTAMPTZ;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- The purge statement locked the counter first (lock_changes).
        t := OLD;
        change_kind := 'purged';
        change_seq := next_change(OLD.user_id);
    ELSIF TG_OP = 'UPDATE' AND OLD.version = NEW.version THEN
        t := NEW;
        change_kind := 'reminder';
        change_seq := next_change(NEW.user_id);
        fired_for := OLD.remind_at;
    ELSE
        t := NEW;
        change_seq := NEW.version;
        IF TG_OP = 'INSERT' THEN
            change_kind := 'created';
        ELSIF OLD.trashed_at IS NULL AND NEW.trashed_at IS NOT NULL THEN
            change_kind := 'trashed';
        ELSIF OLD.trashed_at IS NOT NULL AND NEW.trashed_at IS NULL THEN
            change_kind := 'restored';
        ELSIF (OLD.completed <> NEW.completed OR NEW.recur_done > OLD.recur_done)
            AND (OLD.title, OLD.description, OLD.priority, OLD.tags,
                 OLD.recur_rule, OLD.recur_from, OLD.reminders)
                IS NOT DISTINCT FROM
                (NEW.title, NEW.description, NEW.priority, NEW.tags,
                 NEW.recur_rule, NEW.recur_from, NEW.reminders)
            AND (NEW.recur_done > OLD.recur_done
                 OR (OLD.due_date, OLD.due_time, OLD.due_tz)
                    IS NOT DISTINCT FROM (NEW.due_date, NEW.due_time, NEW.due_tz)) THEN
            change_kind := CASE WHEN NEW.completed OR NEW.recur_done > OLD.recur_done
                                THEN 'completed' ELSE 'uncompleted' END;
        ELSE
            change_kind := 'updated';
        END IF;
    END IF;
    INSERT INTO task_changes (user_id, seq, kind, at, task_id, title, description,
        completed, created_at, updated_at, priority, tags, due_date, due_time, due_tz,
        due_at, version, trashed_at, recur_rule, recur_from, reminders, reminder_at)
    VALUES (t.user_id, change_seq, change_kind, statement_timestamp(), t.id, t.title,
        t.description, t.completed, t.created_at, t.updated_at, t.priority,
        t.tags, t.due_date, t.due_time, t.due_tz, t.due_at, t.version,
        t.trashed_at, t.recur_rule, t.recur_from, t.reminders, fired_for);
    -- See the 1.3 migration.
    IF EXISTS (SELECT 1 FROM change_listeners
               WHERE seen_at > statement_timestamp() - interval '90 seconds') THEN
        PERFORM pg_notify('todo_api_changes', t.user_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_reminded AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.version = NEW.version AND NEW.reminders_fired > OLD.reminders_fired)
    EXECUTE FUNCTION record_task_change();
