-- One table: tasks belong to a Better Auth user id (opaque text). No foreign key:
-- Better Auth owns its `user` table and may keep it in another database.
CREATE TABLE tasks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     TEXT        NOT NULL,
    title       TEXT        COLLATE "C" NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description TEXT                 CHECK (char_length(description) <= 1000),
    completed   BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- `title` sorts by code point (COLLATE "C"): the same order on every server locale.
-- Every list query filters by owner, optionally by completion, then orders by
-- one key with `id` as the tie-breaker: one index per sort key, owner first.
CREATE INDEX tasks_owner_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_owner_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_owner_title   ON tasks (user_id, title, id);
