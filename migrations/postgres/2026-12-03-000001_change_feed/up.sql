-- 1.3: the change feed. Every write to a task leaves a row here, in the same
-- transaction, written by a trigger, so no write path can forget it: the
-- task as it was after the change, under the change number the write took
-- (the task's new `version`; a purge takes one of its own). The feed and the
-- event stream read this table; a user's numbers follow commit order (see
-- the 1.2 migration), so "after N" never misses a change that commits late.
CREATE TABLE task_changes (
    user_id     TEXT        NOT NULL,
    seq         BIGINT      NOT NULL,
    -- created, updated, completed, uncompleted, trashed, restored, purged
    kind        TEXT        NOT NULL,
    -- The database's clock at the write.
    at          TIMESTAMPTZ NOT NULL,
    -- The task's columns after the change (before it, for a purge).
    task_id     BIGINT      NOT NULL,
    title       TEXT        NOT NULL,
    description TEXT,
    completed   BOOLEAN     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    priority    SMALLINT    NOT NULL,
    tags        TEXT        COLLATE "C" NOT NULL,
    due_date    DATE,
    due_time    TIME,
    due_tz      TEXT,
    due_at      TIMESTAMPTZ,
    version     BIGINT      NOT NULL,
    trashed_at  TIMESTAMPTZ,
    PRIMARY KEY (user_id, seq)
);
-- The periodic clean-up: changes older than TRASH_RETENTION_DAYS.
CREATE INDEX task_changes_at ON task_changes (at);

-- The highest change number the clean-up has deleted: a feed asked for
-- changes after an older number is 410 Gone (start again from 0).
ALTER TABLE user_changes ADD COLUMN kept_after BIGINT NOT NULL DEFAULT 0;

-- The instances listening for changes now (the server's live/feeder.rs): one
-- row each, refreshed every 30 s while its LISTEN connection is open. While
-- no row is fresh, writes send no NOTIFY: a notifying transaction holds a
-- database-wide lock from its commit's start to its end (WAL flush
-- included), so notifying commits cannot share a flush, and with many users
-- writing at once that halves their throughput (bench/results/1.3-live.md).
CREATE TABLE change_listeners (
    instance TEXT        PRIMARY KEY,
    seen_at  TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION record_task_change() RETURNS trigger
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

-- Rows written without a change number (version 0: bulk loads, tests that
-- seed with SQL) are no change: the snapshot still shows them.
CREATE TRIGGER tasks_created AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.version <> 0) EXECUTE FUNCTION record_task_change();
-- Only writes that took a change number: the start-up backfill of folded
-- text changes nothing a user sees.
CREATE TRIGGER tasks_changed AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version AND NEW.version <> 0)
    EXECUTE FUNCTION record_task_change();
CREATE TRIGGER tasks_purged AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION record_task_change();
