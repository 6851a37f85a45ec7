//! Task queries. Every one takes the owner and filters by it in the same
//! statement, so another user's task is simply not found. Each is one round
//! trip, written once for both backends (see `db_run!`).
//!
//! Writes read their result to the end (`load`, never `get_result`): a
//! PostgreSQL statement outside a transaction commits at the protocol's
//! `Sync`, and only the end of the result stream (`ReadyForQuery`) says the
//! commit happened. `get_result` stops at the first `RETURNING` row, so a
//! 201 could leave before the commit and be lost when the backend died
//! (tests/api/durability.rs). Reading on costs no extra round trip.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::{dsl::not, prelude::*};
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;

use super::{Database, DbError};
use crate::domain::{ListQuery, NewTask, SortKey, SortOrder, Task, TaskChanges, UserId};

/// A row in column order; generic over the backend's SQL types.
#[derive(Queryable)]
struct TaskRow {
    id: i64,
    user_id: String,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Self {
            id: row.id,
            user_id: UserId::new(row.user_id),
            title: row.title,
            description: row.description,
            completed: row.completed,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// How many rows a listing maps before it yields its worker thread.
const ROWS_BETWEEN_YIELDS: usize = 256;

/// The server's clock, at the microsecond precision both backends store, so
/// what is returned equals what is stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub async fn list(db: &Database, owner: &UserId, query: ListQuery) -> Result<Vec<Task>, DbError> {
    let rows: Vec<TaskRow> = db_run!(db, |conn| {
        let mut select = tasks::table
            .filter(tasks::user_id.eq(owner.as_str()))
            .into_boxed();
        if let Some(completed) = query.status.completed() {
            select = select.filter(tasks::completed.eq(completed));
        }
        // `id` breaks ties in the same direction, so the order is total.
        select = match (query.sort, query.order) {
            (SortKey::Created, SortOrder::Asc) => {
                select.order((tasks::created_at.asc(), tasks::id.asc()))
            }
            (SortKey::Created, SortOrder::Desc) => {
                select.order((tasks::created_at.desc(), tasks::id.desc()))
            }
            (SortKey::Updated, SortOrder::Asc) => {
                select.order((tasks::updated_at.asc(), tasks::id.asc()))
            }
            (SortKey::Updated, SortOrder::Desc) => {
                select.order((tasks::updated_at.desc(), tasks::id.desc()))
            }
            (SortKey::Title, SortOrder::Asc) => select.order((tasks::title.asc(), tasks::id.asc())),
            (SortKey::Title, SortOrder::Desc) => {
                select.order((tasks::title.desc(), tasks::id.desc()))
            }
        };
        let mut stream = select.load_stream::<TaskRow>(conn).await?;
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
        rows
    });
    Ok(rows.into_iter().map(Task::from).collect())
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
                new.description
                    .as_ref()
                    .map(|d| d.as_str())
                    .into_sql::<SqlTypeOf<tasks::description>>(),
                false.into_sql::<SqlTypeOf<tasks::completed>>(),
                at.into_sql::<SqlTypeOf<tasks::created_at>>(),
                at.into_sql::<SqlTypeOf<tasks::updated_at>>(),
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
                ))
                .returning(tasks::all_columns)
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(Task::from))
}

pub async fn find(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    let row: Option<TaskRow> = db_run!(db, |conn| {
        tasks::table
            .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
            .first(conn)
            .await
            .optional()?
    });
    Ok(row.map(Task::from))
}

/// Applies the changes and moves `updated_at`; `None` when the owner has no such task.
pub async fn update(
    db: &Database,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
) -> Result<Option<Task>, DbError> {
    let title = changes.title.as_ref().map(|t| t.as_str());
    let description = changes
        .description
        .as_ref()
        .map(|d| d.as_ref().map(|d| d.as_str()));
    let at = now();
    let rows: Vec<TaskRow> = db_run!(
        db,
        write | conn | {
            diesel::update(tasks::table)
                .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
                // An absent (`None`) assignment is left out of the SET clause.
                .set((
                    title.map(|title| tasks::title.eq(title)),
                    description.map(|description| tasks::description.eq(description)),
                    changes
                        .completed
                        .map(|completed| tasks::completed.eq(completed)),
                    tasks::updated_at.eq(at),
                ))
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(Task::from))
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
                .load(conn)
                .await?
        }
    );
    Ok(rows.into_iter().next().map(Task::from))
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
