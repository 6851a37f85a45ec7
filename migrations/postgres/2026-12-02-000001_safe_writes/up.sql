-- 1.2: per-user change numbers (task versions), the trash, idempotency keys.
-- New task columns have constant defaults: adding them rewrites no row.

-- Each user's last change number. Every write to a task takes the next one
-- in its own transaction through `next_change`: the upsert locks the user's
-- row until that transaction ends, so a user's numbers follow commit order
-- (a plain sequence would not: two transactions can commit out of order).
CREATE TABLE user_changes (
    user_id TEXT   PRIMARY KEY,
    seq     BIGINT NOT NULL CHECK (seq > 0)
);

-- Called inside the statement that writes the task (in SET, VALUES or
-- RETURNING), so the write and its number are one statement, one round trip.
CREATE FUNCTION next_change(owner TEXT) RETURNS BIGINT
    LANGUAGE sql VOLATILE PARALLEL UNSAFE
    SET search_path FROM CURRENT
AS $$
    INSERT INTO user_changes AS changes (user_id, seq) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET seq = changes.seq + 1
    RETURNING changes.seq
$$;

-- Locks the owner's counter, for a statement that deletes (purges) tasks:
-- called in its WHERE, so the counter is locked before any task row, the
-- order every other write takes them in (`next_change` in SET or VALUES
-- runs before the row is locked). Without it a purge and a restore of one
-- task could each hold what the other waits for.
CREATE FUNCTION lock_changes(owner TEXT) RETURNS BOOLEAN
    LANGUAGE sql VOLATILE PARALLEL UNSAFE
    SET search_path FROM CURRENT
AS $$
    SELECT true FROM user_changes WHERE user_id = owner FOR UPDATE
$$;

-- The change number of the task's last write (0: not written since 1.2).
ALTER TABLE tasks ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
-- When the task was moved to the trash; NULL for a live task.
ALTER TABLE tasks ADD COLUMN trashed_at TIMESTAMPTZ;

-- The trash listing (owner's trashed tasks, newest first) and the periodic
-- purge (every owner's, oldest first): small, since only trashed rows are in them.
CREATE INDEX tasks_owner_trashed ON tasks (user_id, trashed_at, id) WHERE trashed_at IS NOT NULL;
CREATE INDEX tasks_trashed       ON tasks (trashed_at)              WHERE trashed_at IS NOT NULL;

-- The outcome of a write sent with an `Idempotency-Key`, stored in the
-- transaction of the write itself, for replay to the same user's retries.
CREATE TABLE idempotency_keys (
    user_id     TEXT        NOT NULL,
    key         TEXT        COLLATE "C" NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the request: method, path, If-Match and canonical JSON body.
    fingerprint BYTEA       NOT NULL,
    status      SMALLINT    NOT NULL,
    -- The replayed headers, one `name: value` a line.
    headers     TEXT        NOT NULL,
    body        BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
