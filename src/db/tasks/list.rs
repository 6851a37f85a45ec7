//! The listing query: the filters, a multi-key order, and a page by keyset
//! (cursor) or offset, in one statement (two with `include_total`).

use diesel::{
    BoxableExpression,
    prelude::*,
    sql_types::{Bool, Nullable},
};
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;

use super::{Database, DbError, TaskRow};
use crate::domain::{
    DueCondition, ListQuery, SortKey, SortOrder, SortValue, Start, Tags, Task, UserId,
};

/// How many rows a listing maps before it yields its worker thread.
const ROWS_BETWEEN_YIELDS: usize = 256;

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Whether tasks exist after this page.
    pub more: bool,
    /// Tasks matching the filters, when asked for (`include_total`).
    pub total: Option<i64>,
    /// The owner's last change number (0 before any), read with the rows;
    /// `None` for an empty page, which has no row to carry it.
    pub latest_change: Option<i64>,
}

pub async fn list(db: &Database, owner: &UserId, query: &ListQuery) -> Result<Page, DbError> {
    if let Some(reads) = db.shared_reads()
        && let Some(page) = super::hot::list(reads, owner, query).await
    {
        return Ok(page);
    }
    // Boxed: diesel's future would make every request's future larger.
    Box::pin(list_pooled(db, owner, query)).await
}

async fn list_pooled(db: &Database, owner: &UserId, query: &ListQuery) -> Result<Page, DbError> {
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let ranks: Vec<i16> = query.priorities.iter().map(|p| p.rank()).collect();
    let first = <[_]>::first(&query.sort).map_or(SortOrder::Desc, |(_, order)| *order);
    let (rows, total, latest_change): (Vec<TaskRow>, Option<i64>, Option<i64>) =
        db_run!(db, |conn| {
            type Cond = Box<dyn BoxableExpression<tasks::table, Backend, SqlType = Nullable<Bool>>>;
            // The filters, without paging: built twice when the total is asked.
            let filtered = || {
                let mut select = tasks::table.filter(live_tasks!(owner)).into_boxed();
                if let Some(completed) = query.status.completed() {
                    select = select.filter(tasks::completed.eq(completed));
                }
                if !ranks.is_empty() {
                    select = select.filter(tasks::priority.eq_any(ranks.clone()));
                }
                for tag in &query.tags {
                    select =
                        select.filter(position(tasks::tags.nullable(), Tags::needle(tag)).gt(0));
                }
                if let Some(needle) = &query.search {
                    select = select.filter(
                        position(tasks::title_folded, needle.clone())
                            .gt(0)
                            .or(position(tasks::description_folded, needle.clone()).gt(0)),
                    );
                }
                for condition in &query.due {
                    let cond: Cond = match condition {
                        DueCondition::None => Box::new(tasks::due_date.is_null().nullable()),
                        DueCondition::Any => Box::new(tasks::due_date.is_not_null().nullable()),
                        DueCondition::Range { from, to } => {
                            // Timed tasks compare their instant, all-day ones their date.
                            let mut timed: Cond = Box::new(tasks::due_at.is_not_null().nullable());
                            let mut all_day: Cond = Box::new(
                                tasks::due_at
                                    .is_null()
                                    .and(tasks::due_date.is_not_null())
                                    .nullable(),
                            );
                            if let Some(from) = from {
                                timed = Box::new(timed.and(tasks::due_at.ge(from.at)));
                                all_day = Box::new(all_day.and(tasks::due_date.ge(from.date)));
                            }
                            if let Some(to) = to {
                                timed = Box::new(timed.and(tasks::due_at.lt(to.at)));
                                all_day = Box::new(all_day.and(tasks::due_date.lt(to.date)));
                            }
                            Box::new(timed.or(all_day))
                        }
                    };
                    select = select.filter(cond);
                }
                select
            };
            let total = if query.include_total {
                Some(
                    filtered()
                        .select(diesel::dsl::count_star())
                        .get_result::<i64>(conn)
                        .await?,
                )
            } else {
                None
            };
            // The owner's counter, read with the rows (a subquery PostgreSQL
            // and SQLite evaluate once): no second statement for the ETag.
            let latest = || {
                user_changes::table
                    .filter(user_changes::user_id.eq(owner.as_str()))
                    .select(user_changes::seq)
                    .single_value()
            };
            let mut select = filtered().select((task_columns!(), latest()));
            for &(key, order) in &query.sort {
                let desc = order == SortOrder::Desc;
                select = match (key, desc) {
                    (SortKey::Created, false) => select.then_order_by(tasks::created_at.asc()),
                    (SortKey::Created, true) => select.then_order_by(tasks::created_at.desc()),
                    (SortKey::Updated, false) => select.then_order_by(tasks::updated_at.asc()),
                    (SortKey::Updated, true) => select.then_order_by(tasks::updated_at.desc()),
                    (SortKey::Title, false) => select.then_order_by(tasks::title.asc()),
                    (SortKey::Title, true) => select.then_order_by(tasks::title.desc()),
                    (SortKey::Priority, false) => select.then_order_by(tasks::priority.asc()),
                    (SortKey::Priority, true) => select.then_order_by(tasks::priority.desc()),
                    (SortKey::Status, false) => select.then_order_by(tasks::completed.asc()),
                    (SortKey::Status, true) => select.then_order_by(tasks::completed.desc()),
                    (SortKey::Due, desc) => due_order(desc)
                        .into_iter()
                        .fold(select, |select, order| select.then_order_by(order)),
                };
            }
            // `id` breaks ties in the first key's direction: the order is total.
            select = match first {
                SortOrder::Asc => select.then_order_by(tasks::id.asc()),
                SortOrder::Desc => select.then_order_by(tasks::id.desc()),
            };
            match &query.start {
                Start::First => {}
                Start::Offset(offset) => select = select.offset(i64::from(*offset)),
                Start::After(values, id) => {
                    // Keyset: rows after the cursor's, key by key — (k1 after v1)
                    // or (k1 = v1 and k2 after v2) or … or (all equal and id after).
                    let after = |key: SortKey, desc: bool, value: &SortValue| -> Option<Cond> {
                        macro_rules! beyond {
                            ($column:expr, $value:expr) => {
                                if desc {
                                    Box::new($column.lt($value).nullable()) as Cond
                                } else {
                                    Box::new($column.gt($value).nullable()) as Cond
                                }
                            };
                        }
                        Some(match (key, value) {
                            (SortKey::Created, SortValue::Instant(at)) => {
                                beyond!(tasks::created_at, *at)
                            }
                            (SortKey::Updated, SortValue::Instant(at)) => {
                                beyond!(tasks::updated_at, *at)
                            }
                            (SortKey::Title, SortValue::Text(title)) => {
                                beyond!(tasks::title, title.clone())
                            }
                            (SortKey::Priority, SortValue::Rank(rank)) => {
                                beyond!(tasks::priority, *rank)
                            }
                            (SortKey::Status, SortValue::Done(done)) => {
                                beyond!(tasks::completed, *done)
                            }
                            // Tasks without a due date come last either way.
                            (SortKey::Due, SortValue::DueKey(Some(due))) => Box::new(
                                beyond!(tasks::due_key, due.clone()).or(tasks::due_key.is_null()),
                            ),
                            _ => return None,
                        })
                    };
                    let equal = |key: SortKey, value: &SortValue| -> Cond {
                        match (key, value) {
                            (SortKey::Created, SortValue::Instant(at)) => {
                                Box::new(tasks::created_at.eq(*at).nullable())
                            }
                            (SortKey::Updated, SortValue::Instant(at)) => {
                                Box::new(tasks::updated_at.eq(*at).nullable())
                            }
                            (SortKey::Title, SortValue::Text(title)) => {
                                Box::new(tasks::title.eq(title.clone()).nullable())
                            }
                            (SortKey::Priority, SortValue::Rank(rank)) => {
                                Box::new(tasks::priority.eq(*rank).nullable())
                            }
                            (SortKey::Status, SortValue::Done(done)) => {
                                Box::new(tasks::completed.eq(*done).nullable())
                            }
                            (SortKey::Due, SortValue::DueKey(Some(due))) => {
                                Box::new(tasks::due_key.eq(due.clone()))
                            }
                            _ => Box::new(tasks::due_key.is_null().nullable()),
                        }
                    };
                    let id_after: Cond = match first {
                        SortOrder::Asc => Box::new(tasks::id.gt(*id).nullable()),
                        SortOrder::Desc => Box::new(tasks::id.lt(*id).nullable()),
                    };
                    // Built from the last key back: after_i or (equal_i and rest).
                    let mut rest = id_after;
                    for (&(key, order), value) in query.sort.iter().zip(values).rev() {
                        let tied: Cond = Box::new(equal(key, value).and(rest));
                        rest = match after(key, order == SortOrder::Desc, value) {
                            Some(beyond) => Box::new(beyond.or(tied)),
                            None => tied,
                        };
                    }
                    select = select.filter(rest);
                }
            }
            let mut stream = select
                .limit(i64::try_from(limit).unwrap_or(i64::MAX) + 1)
                .load_stream::<(TaskRow, Option<i64>)>(conn)
                .await?;
            let mut rows = Vec::new();
            let mut latest_change = None;
            while let Some((row, latest)) = stream.try_next().await? {
                rows.push(row);
                latest_change = latest;
                // Turning thousands of rows into tasks takes milliseconds (tens
                // in a debug build) of a worker thread that other requests,
                // `/health` included, are queued on: let them in every so often.
                if rows.len() % ROWS_BETWEEN_YIELDS == 0 {
                    tokio::task::yield_now().await;
                }
            }
            (rows, total, latest_change)
        });
    Ok(Page::of(rows, latest_change, total, query.limit, owner))
}

impl Page {
    /// A page from the rows read (up to `limit` + 1, the one more saying
    /// whether more follow) and the owner's change counter read with them.
    pub(super) fn of(
        rows: Vec<TaskRow>,
        latest_change: Option<i64>,
        total: Option<i64>,
        limit: u32,
        owner: &UserId,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        let rows_empty = rows.is_empty();
        Self {
            tasks: rows
                .into_iter()
                .take(limit)
                .map(|row| row.into_task(owner))
                .collect(),
            more,
            total,
            latest_change: if rows_empty {
                None
            } else {
                Some(latest_change.unwrap_or(0))
            },
        }
    }
}
