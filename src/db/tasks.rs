//! Task queries. Every one takes the owner and filters by it in the same
//! statement, so another user's task is simply not found. Each is one round
//! trip, written once for both backends (see `db_run!`); a listing with
//! `include_total` adds a second statement, the count.
//!
//! Writes read their result to the end (`load`, never `get_result`): a
//! PostgreSQL statement outside a transaction commits at the protocol's
//! `Sync`, and only the end of the result stream (`ReadyForQuery`) says the
//! commit happened. `get_result` stops at the first `RETURNING` row, so a
//! 201 could leave before the commit and be lost when the backend died
//! (tests/api/durability.rs). Reading on costs no extra round trip.

use chrono::{DateTime, NaiveDate, NaiveTime, SubsecRound, Utc};
use diesel::{
    BoxableExpression,
    dsl::not,
    prelude::*,
    sql_types::{Bool, Nullable},
};
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;

use super::{Database, DbError};
use crate::domain::{
    Due, DueCondition, ListQuery, NewTask, Priority, SortKey, SortOrder, SortValue, Start, Tags,
    Task, TaskChanges, UserId, fold,
};

/// The columns every query returns, in `TaskRow`'s order. (`user_id` is the
/// owner every query is given; the folded text and the due sort key are
/// for the database's own use.)
macro_rules! task_columns {
    () => {
        (
            tasks::id,
            tasks::title,
            tasks::description,
            tasks::completed,
            tasks::created_at,
            tasks::updated_at,
            tasks::priority,
            tasks::tags,
            tasks::due_date,
            tasks::due_time,
            tasks::due_tz,
            tasks::due_at,
        )
    };
}

/// A row in `task_columns!` order; generic over the backend's SQL types.
#[derive(Queryable)]
struct TaskRow {
    id: i64,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    priority: i16,
    tags: String,
    due_date: Option<NaiveDate>,
    due_time: Option<NaiveTime>,
    due_tz: Option<String>,
    due_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    fn into_task(self, owner: &UserId) -> Task {
        Task {
            id: self.id,
            user_id: owner.clone(),
            title: self.title,
            description: self.description,
            completed: self.completed,
            priority: Priority::from_rank(self.priority),
            tags: Tags::from_column(&self.tags),
            due: Due::from_columns(
                self.due_date,
                self.due_time,
                self.due_tz.as_deref(),
                self.due_at,
            ),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A due date as its five columns: date, time, zone, instant, sort key.
type DueColumns = (
    Option<NaiveDate>,
    Option<NaiveTime>,
    Option<&'static str>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn due_columns(due: Option<&Due>) -> DueColumns {
    match due {
        None => (None, None, None, None, None),
        Some(due @ Due::AllDay(date)) => (Some(*date), None, None, None, Some(due.sort_key())),
        Some(due @ Due::At { local, zone, at }) => (
            Some(local.date()),
            Some(local.time()),
            Some(zone.name()),
            Some(*at),
            Some(due.sort_key()),
        ),
    }
}

/// How many rows a listing maps before it yields its worker thread.
const ROWS_BETWEEN_YIELDS: usize = 256;

/// The server's clock, at the microsecond precision both backends store, so
/// what is returned equals what is stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Whether tasks exist after this page.
    pub more: bool,
    /// Tasks matching the filters, when asked for (`include_total`).
    pub total: Option<i64>,
}

pub async fn list(db: &Database, owner: &UserId, query: &ListQuery) -> Result<Page, DbError> {
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let ranks: Vec<i16> = query.priorities.iter().map(|p| p.rank()).collect();
    let first = <[_]>::first(&query.sort).map_or(SortOrder::Desc, |(_, order)| *order);
    let (rows, total): (Vec<TaskRow>, Option<i64>) = db_run!(db, |conn| {
        type Cond = Box<dyn BoxableExpression<tasks::table, Backend, SqlType = Nullable<Bool>>>;
        // The filters, without paging: built twice when the total is asked.
        let filtered = || {
            let mut select = tasks::table
                .filter(tasks::user_id.eq(owner.as_str()))
                .into_boxed();
            if let Some(completed) = query.status.completed() {
                select = select.filter(tasks::completed.eq(completed));
            }
            if !ranks.is_empty() {
                select = select.filter(tasks::priority.eq_any(ranks.clone()));
            }
            for tag in &query.tags {
                select = select.filter(position(tasks::tags.nullable(), Tags::needle(tag)).gt(0));
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
        let mut select = filtered().select(task_columns!());
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
            .load_stream::<TaskRow>(conn)
            .await?;
        let mut rows = Vec::new();
        while let Some(row) = stream.try_next().await? {
            rows.push(row);
            // Turning thousands of rows into tasks takes milliseconds (tens
            // in a debug build) of a worker thread that other requests,
            // `/health` included, are queued on: let them in every so often.
            if rows.len() % ROWS_BETWEEN_YIELDS == 0 {
                tokio::task::yield_now().await;
            }
        }
        (rows, total)
    });
    let more = rows.len() > limit;
    Ok(Page {
        tasks: rows
            .into_iter()
            .take(limit)
            .map(|row| row.into_task(owner))
            .collect(),
        more,
        total,
    })
}

/// Inserts the task unless the owner already has `max_tasks` (when set):
/// `None` then. The count and the insert are one statement
/// (`INSERT … SELECT … WHERE NOT EXISTS (the owner's max_tasks-th task)`), an
/// index probe that stops at the limit, not a count of every task. On SQLite
/// writes are serialised, so the limit is exact; on PostgreSQL concurrent
/// creates of one user can overshoot it by at most the number in flight.
pub async fn create(
    db: &Database,
    owner: &UserId,
    new: &NewTask,
    max_tasks: Option<u32>,
) -> Result<Option<Task>, DbError> {
    use diesel::dsl::{SqlTypeOf, exists};
    let at = now();
    // OFFSET max-1 finds the max-th task. Without a limit the probe looks for
    // a 4-billionth task, which no user has: the same statement either way.
    let skip = i64::from(max_tasks.map_or(u32::MAX, |max| max.max(1)) - 1);
    let description = new.description.as_ref().map(|d| d.as_str());
    let tags = new.tags.to_column();
    let (due_date, due_time, due_tz, due_at, due_key) = due_columns(new.due.as_ref());
    let (title_folded, description_folded) = (fold(new.title.as_str()), description.map(fold));
    let rows: Vec<TaskRow> = db_run!(
        db,
        write | conn | {
            let full = tasks::table
                .filter(tasks::user_id.eq(owner.as_str()))
                .select(tasks::id)
                .offset(skip)
                .limit(1);
            let row = diesel::select((
                owner.as_str().into_sql::<SqlTypeOf<tasks::user_id>>(),
                new.title.as_str().into_sql::<SqlTypeOf<tasks::title>>(),
                description.into_sql::<SqlTypeOf<tasks::description>>(),
                false.into_sql::<SqlTypeOf<tasks::completed>>(),
                at.into_sql::<SqlTypeOf<tasks::created_at>>(),
                at.into_sql::<SqlTypeOf<tasks::updated_at>>(),
                new.priority.rank().into_sql::<SqlTypeOf<tasks::priority>>(),
                tags.as_str().into_sql::<SqlTypeOf<tasks::tags>>(),
                due_date.into_sql::<SqlTypeOf<tasks::due_date>>(),
                due_time.into_sql::<SqlTypeOf<tasks::due_time>>(),
                due_tz.into_sql::<SqlTypeOf<tasks::due_tz>>(),
                due_at.into_sql::<SqlTypeOf<tasks::due_at>>(),
                due_key.as_deref().into_sql::<SqlTypeOf<tasks::due_key>>(),
                Some(title_folded.as_str()).into_sql::<SqlTypeOf<tasks::title_folded>>(),
                description_folded
                    .as_deref()
                    .into_sql::<SqlTypeOf<tasks::description_folded>>(),
            ))
            .filter(not(exists(full)));
            diesel::insert_into(tasks::table)
                .values(row)
                .into_columns((
                    tasks::user_id,
                    tasks::title,
                    tasks::description,
                    tasks::completed,
                    tasks::created_at,
                    tasks::updated_at,
                    tasks::priority,
                    tasks::tags,
                    tasks::due_date,
                    tasks::due_time,
                    tasks::due_tz,
                    tasks::due_at,
                    tasks::due_key,
                    tasks::title_folded,
                    tasks::description_folded,
                ))
                .returning(task_columns!())
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(|row| row.into_task(owner)))
}

pub async fn find(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    let row: Option<TaskRow> = db_run!(db, |conn| {
        tasks::table
            .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
            .select(task_columns!())
            .first(conn)
            .await
            .optional()?
    });
    Ok(row.map(|row| row.into_task(owner)))
}

/// Applies the changes and moves `updated_at`; `None` when the owner has no such task.
pub async fn update(
    db: &Database,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
) -> Result<Option<Task>, DbError> {
    let title = changes.title.as_ref().map(|t| t.as_str());
    let title_folded = title.map(fold);
    let description = changes
        .description
        .as_ref()
        .map(|d| d.as_ref().map(|d| d.as_str()));
    let description_folded = description.map(|d| d.map(fold));
    let tags = changes.tags.as_ref().map(Tags::to_column);
    let due = changes.due.as_ref().map(|due| due_columns(due.as_ref()));
    let at = now();
    let rows: Vec<TaskRow> = db_run!(
        db,
        write | conn | {
            diesel::update(tasks::table)
                .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
                // An absent (`None`) assignment is left out of the SET clause.
                .set((
                    title.map(|title| tasks::title.eq(title)),
                    title_folded
                        .as_deref()
                        .map(|folded| tasks::title_folded.eq(folded)),
                    description.map(|description| tasks::description.eq(description)),
                    description_folded
                        .as_ref()
                        .map(|folded| tasks::description_folded.eq(folded.as_deref())),
                    changes
                        .completed
                        .map(|completed| tasks::completed.eq(completed)),
                    changes
                        .priority
                        .map(|priority| tasks::priority.eq(priority.rank())),
                    tags.as_deref().map(|tags| tasks::tags.eq(tags)),
                    due.as_ref().map(|(date, time, zone, due_at, key)| {
                        (
                            tasks::due_date.eq(*date),
                            tasks::due_time.eq(*time),
                            tasks::due_tz.eq(*zone),
                            tasks::due_at.eq(*due_at),
                            tasks::due_key.eq(key.as_deref()),
                        )
                    }),
                    tasks::updated_at.eq(at),
                ))
                .returning(task_columns!())
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(|row| row.into_task(owner)))
}

/// Flips `completed` in the database itself, so concurrent toggles all count.
pub async fn toggle(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    let at = now();
    let rows: Vec<TaskRow> = db_run!(
        db,
        write | conn | {
            diesel::update(tasks::table)
                .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
                .set((
                    tasks::completed.eq(not(tasks::completed)),
                    tasks::updated_at.eq(at),
                ))
                .returning(task_columns!())
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(|row| row.into_task(owner)))
}

/// `true` when the owner's task existed and is now gone.
pub async fn delete(db: &Database, owner: &UserId, id: i64) -> Result<bool, DbError> {
    let deleted = db_run!(
        db,
        write | conn | {
            diesel::delete(tasks::table)
                .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
                .execute(conn)
                .await?
        }
    );
    Ok(deleted > 0)
}

/// Folds the search text of rows written before 1.1 that the migration
/// could not fold in SQL (non-ASCII text): a batch at a time, until none is
/// left. Returns how many rows it folded. Run at start-up, after migrating.
pub async fn fold_unfolded(db: &Database) -> Result<usize, DbError> {
    const BATCH: i64 = 500;
    let mut folded = 0;
    loop {
        let rows: Vec<(i64, String, Option<String>)> = db_run!(db, |conn| {
            tasks::table
                .filter(tasks::title_folded.is_null())
                .select((tasks::id, tasks::title, tasks::description))
                .order(tasks::id)
                .limit(BATCH)
                .load(conn)
                .await?
        });
        if rows.is_empty() {
            return Ok(folded);
        }
        for (id, title, description) in rows {
            let (title, description) = (fold(&title), description.as_deref().map(fold));
            db_run!(
                db,
                write | conn | {
                    diesel::update(tasks::table.filter(tasks::id.eq(id)))
                        .set((
                            tasks::title_folded.eq(&title),
                            tasks::description_folded.eq(&description),
                        ))
                        .execute(conn)
                        .await?
                }
            );
            folded += 1;
        }
    }
}
