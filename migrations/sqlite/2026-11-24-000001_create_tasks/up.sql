-- The SQLite twin of migrations/postgres/2026-11-24-000001_create_tasks:
-- same columns, same rules, same indexes.
-- Timestamps are UTC text ("2026-11-24 09:30:00.123456+00:00"), written by the
-- server, so they sort as text. BINARY collation orders titles by code point,
-- as COLLATE "C" does on PostgreSQL. AUTOINCREMENT never reuses an id, like an
-- identity column.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description TEXT             CHECK (length(description) <= 1000),
    completed   BOOLEAN NOT NULL DEFAULT FALSE CHECK (completed IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE INDEX tasks_owner_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_owner_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_owner_title   ON tasks (user_id, title, id);
