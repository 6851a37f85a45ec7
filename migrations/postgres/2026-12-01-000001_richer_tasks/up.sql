-- 1.1: priority, tags, a due date with its time zone, and folded text for search.
-- Every new column has a constant default or none, so adding it rewrites no row.

-- 0 none, 1 low, 2 medium, 3 high: sorting by the number is sorting by priority.
ALTER TABLE tasks ADD COLUMN priority SMALLINT NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3);

-- Normalised tags (which cannot contain commas), sorted, between commas:
-- ',home,urgent,' (or '' for none), so "has tag t" is "contains ',t,'".
ALTER TABLE tasks ADD COLUMN tags TEXT COLLATE "C" NOT NULL DEFAULT ''
    CHECK (tags = '' OR (tags LIKE ',%,' AND octet_length(tags) <= 2000));

-- The due date as the user meant it: the local date, and for a timed task its
-- wall-clock time and IANA zone; `due_at` is the instant they make (derived by
-- the server, with RFC 5545's rules for DST gaps and overlaps).
-- `due_key` orders tasks by due: the local date, then (timed tasks only, after
-- the all-day ones of that date) the instant, as text:
-- '2026-12-01' or '2026-12-01 2026-12-01T08:00:00.000000Z'.
ALTER TABLE tasks ADD COLUMN due_date DATE;
ALTER TABLE tasks ADD COLUMN due_time TIME;
ALTER TABLE tasks ADD COLUMN due_tz   TEXT;
ALTER TABLE tasks ADD COLUMN due_at   TIMESTAMPTZ;
ALTER TABLE tasks ADD COLUMN due_key  TEXT COLLATE "C";
ALTER TABLE tasks ADD CONSTRAINT tasks_due_whole CHECK (
    (due_date IS NULL) = (due_key IS NULL)
    AND (due_time IS NULL) = (due_at IS NULL)
    AND (due_time IS NULL) = (due_tz IS NULL)
    AND (due_date IS NOT NULL OR due_time IS NULL)
);

-- Title and description in Unicode lower case (NFC) for `search`, written by
-- the server: PostgreSQL's lower() under COLLATE "C" and SQLite's lower() fold
-- ASCII only. ASCII text is folded here; the server folds the rest at start-up
-- (rows whose folded title is still NULL).
ALTER TABLE tasks ADD COLUMN title_folded TEXT COLLATE "C";
ALTER TABLE tasks ADD COLUMN description_folded TEXT COLLATE "C";
UPDATE tasks SET title_folded = lower(title) WHERE octet_length(title) = char_length(title);
UPDATE tasks SET description_folded = lower(description)
    WHERE description IS NOT NULL AND octet_length(description) = char_length(description);
UPDATE tasks SET title_folded = NULL
    WHERE description IS NOT NULL AND description_folded IS NULL;

-- Owner first, like the 1.0 indexes: the two new sort keys.
CREATE INDEX tasks_owner_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_owner_due      ON tasks (user_id, due_key, id);

-- Rows whose text the server still has to fold: empty once start-up has run
-- (every write sets title_folded), so the start-up check is one index probe,
-- not a scan of every task.
CREATE INDEX tasks_unfolded ON tasks (id) WHERE title_folded IS NULL;
