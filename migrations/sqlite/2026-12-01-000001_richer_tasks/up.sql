-- The SQLite twin of migrations/postgres/2026-12-01-000001_richer_tasks (see
-- its comments): the same columns and rules. Dates, times and instants are
-- text written by the server (fixed width, so they sort as text).
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3);
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT ''
    CHECK (tags = '' OR (substr(tags, 1, 1) = ',' AND substr(tags, -1, 1) = ',' AND length(CAST(tags AS BLOB)) <= 2000));
ALTER TABLE tasks ADD COLUMN due_date TEXT;
ALTER TABLE tasks ADD COLUMN due_tz   TEXT;
ALTER TABLE tasks ADD COLUMN due_time TEXT CHECK ((due_time IS NULL) = (due_tz IS NULL));
ALTER TABLE tasks ADD COLUMN due_at   TEXT CHECK ((due_at IS NULL) = (due_time IS NULL));
ALTER TABLE tasks ADD COLUMN due_key  TEXT CHECK ((due_key IS NULL) = (due_date IS NULL) AND (due_date IS NOT NULL OR due_time IS NULL));
ALTER TABLE tasks ADD COLUMN title_folded TEXT;
ALTER TABLE tasks ADD COLUMN description_folded TEXT;
UPDATE tasks SET title_folded = lower(title) WHERE length(CAST(title AS BLOB)) = length(title);
UPDATE tasks SET description_folded = lower(description)
    WHERE description IS NOT NULL AND length(CAST(description AS BLOB)) = length(description);
UPDATE tasks SET title_folded = NULL
    WHERE description IS NOT NULL AND description_folded IS NULL;

CREATE INDEX tasks_owner_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_owner_due      ON tasks (user_id, due_key, id);

-- Rows whose text the server still has to fold: empty once start-up has run
-- (every write sets title_folded), so the start-up check is one index probe,
-- not a scan of every task.
CREATE INDEX tasks_unfolded ON tasks (id) WHERE title_folded IS NULL;
