-- The SQLite twin of migrations/postgres/2026-12-02-000001_safe_writes (see
-- its comments). SQLite has no functions written in SQL: the server takes the
-- next number inside the write's own transaction (BEGIN IMMEDIATE, which
-- serialises writers), in the same statement as the write, and then records it.
CREATE TABLE user_changes (
    user_id TEXT    PRIMARY KEY,
    seq     INTEGER NOT NULL CHECK (seq > 0)
);

ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN trashed_at TEXT;

CREATE INDEX tasks_owner_trashed ON tasks (user_id, trashed_at, id) WHERE trashed_at IS NOT NULL;
CREATE INDEX tasks_trashed       ON tasks (trashed_at)              WHERE trashed_at IS NOT NULL;

CREATE TABLE idempotency_keys (
    user_id     TEXT    NOT NULL,
    key         TEXT    NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 255),
    fingerprint BLOB    NOT NULL,
    status      INTEGER NOT NULL,
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
