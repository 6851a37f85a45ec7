//! The two hot reads as prepared statements on the shared connections
//! (`db::shared`, PostgreSQL): one task, and a page of at most
//! [`HOT_LIMIT_MAX`] tasks of the default listing (no filter, newest first,
//! first page or a cursor's). Everything else, and every read when the
//! shared connections cannot answer, goes through diesel (`find`, `list`).
//!
//! The SQL is written out here rather than built by diesel's query builder
//! for every request: it is the same statement diesel sends (the columns of
//! `task_columns!`, the filters of `live_tasks!`), prepared once per
//! connection. tests/api/shared_reads.rs prepares every statement against
//! the migrated schema and checks that both paths answer alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{TaskRow, list::Page};
use crate::{
    db::shared::SharedReads,
    domain::{ListQuery, SortKey, SortOrder, SortValue, Start, StatusFilter, Task, UserId},
};

/// The largest page read on a shared connection: a bigger one would hold
/// it (and every query pipelined behind it) while its rows are sent.
pub const HOT_LIMIT_MAX: u32 = 100;

/// `task_columns!` in SQL, `TaskRow`'s order.
macro_rules! columns {
    () => {
        "id, title, description, completed, created_at, updated_at, priority, tags, \
         due_date, due_time, due_tz, due_at, version, trashed_at, recur_rule, recur_from, reminders"
    };
}

/// The owner's change counter, read with a page's rows (for its ETag).
macro_rules! latest_change {
    () => {
        "(SELECT seq FROM user_changes WHERE user_changes.user_id = $1)"
    };
}

/// One live task of the owner: `$1` owner, `$2` id.
pub const FIND: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tasks WHERE id = $2 AND user_id = $1 AND trashed_at IS NULL"
);

/// The first page: `$1` owner, `$2` rows to read (the page size + 1).
pub const LIST_FIRST: &str = concat!(
    "SELECT ",
    columns!(),
    ", ",
    latest_change!(),
    " FROM tasks WHERE user_id = $1 AND trashed_at IS NULL \
     ORDER BY created_at DESC, id DESC LIMIT $2"
);

/// After the cursor's task: the same order, so the row comparison is the
/// keyset condition (`created_at < $3 OR (created_at = $3 AND id < $4)`).
const LIST_AFTER: &str = concat!(
    "SELECT ",
    columns!(),
    ", ",
    latest_change!(),
    " FROM tasks WHERE user_id = $1 AND trashed_at IS NULL AND (created_at, id) < ($3, $4) \
     ORDER BY created_at DESC, id DESC LIMIT $2"
);

/// Every statement the shared connections prepare, in their index order.
pub const STATEMENTS: &[&str] = &[FIND, LIST_FIRST, LIST_AFTER];
const FIND_INDEX: usize = 0;
const LIST_FIRST_INDEX: usize = 1;
const LIST_AFTER_INDEX: usize = 2;

/// The owner's live task; `None` when the pool should be asked instead.
pub(super) async fn find(
    reads: &Arc<SharedReads>,
    owner: &UserId,
    id: i64,
) -> Option<Option<Task>> {
    let rows = reads.query(FIND_INDEX, &[&owner.as_str(), &id]).await?;
    match rows.first() {
        None => Some(None),
        Some(row) => decode(row).map(|row| Some(row.into_task(owner))),
    }
}

/// A page of the default listing, when `query` is one and small enough;
/// `None` when the pool should be asked instead.
pub(super) async fn list(
    reads: &Arc<SharedReads>,
    owner: &UserId,
    query: &ListQuery,
) -> Option<Page> {
    let plain = query.status == StatusFilter::All
        && query.priorities.is_empty()
        && query.tags.is_empty()
        && query.due.is_empty()
        && query.search.is_none()
        && !query.include_total
        && query.limit <= HOT_LIMIT_MAX
        && query.sort == [(SortKey::Created, SortOrder::Desc)];
    if !plain {
        return None;
    }
    let fetch = i64::from(query.limit) + 1;
    let rows = match &query.start {
        Start::First => {
            reads
                .query(LIST_FIRST_INDEX, &[&owner.as_str(), &fetch])
                .await?
        }
        Start::After(values, id) => {
            let [SortValue::Instant(created_at)] = values.as_slice() else {
                return None;
            };
            let created_at: &DateTime<Utc> = created_at;
            reads
                .query(LIST_AFTER_INDEX, &[&owner.as_str(), &fetch, created_at, id])
                .await?
        }
        Start::Offset(_) => return None,
    };
    let mut tasks = Vec::with_capacity(rows.len());
    let mut latest_change = None;
    for row in &rows {
        tasks.push(decode(row)?);
        latest_change = match row.try_get::<_, Option<i64>>(17) {
            Ok(latest) => latest,
            Err(err) => return undecodable(&err),
        };
    }
    Some(Page::of(tasks, latest_change, None, query.limit, owner))
}

/// A row in `columns!` order; `None` (after a warning) if it does not decode,
/// which the test of the statements rules out.
fn decode(row: &Row) -> Option<TaskRow> {
    let decoded = (|| {
        Ok::<_, tokio_postgres::Error>(TaskRow {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            description: row.try_get(2)?,
            completed: row.try_get(3)?,
            created_at: row.try_get(4)?,
            updated_at: row.try_get(5)?,
            priority: row.try_get(6)?,
            tags: row.try_get(7)?,
            due_date: row.try_get(8)?,
            due_time: row.try_get(9)?,
            due_tz: row.try_get(10)?,
            due_at: row.try_get(11)?,
            version: row.try_get(12)?,
            trashed_at: row.try_get(13)?,
            recur_rule: row.try_get(14)?,
            recur_from: row.try_get(15)?,
            reminders: row.try_get(16)?,
        })
    })();
    match decoded {
        Ok(row) => Some(row),
        Err(err) => undecodable(&err),
    }
}

fn undecodable<T>(err: &tokio_postgres::Error) -> Option<T> {
    tracing::error!(cause = %err, "a shared read's row did not decode: read again from the pool");
    None
}
