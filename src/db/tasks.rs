//! Task queries. Every one takes the owner and filters by it in the same
//! statement, so another user's task is simply not found; trashed tasks are
//! left out by `live_tasks!`, the one place that says so. Each is one round
//! trip, written once for both backends (see `db_run!`); a listing with
//! `include_total` adds a second statement, the count (`tasks/list.rs`).
//!
//! Every write takes the owner's next change number in the same statement
//! (`next_version`, see the 1.2 migration) and stores it as the task's
//! `version`; on SQLite `record_changes` then moves the counter on, in the
//! same transaction. A write with a precondition (`If-Match`) checks it in
//! its own `WHERE`: the check and the write cannot be told apart by a
//! concurrent writer.
//!
//! Writes read their result to the end (`load`, never `get_result`): a
//! PostgreSQL statement outside a transaction commits at the protocol's
//! `Sync`, and only the end of the result stream (`ReadyForQuery`) says the
//! commit happened. `get_result` stops at the first `RETURNING` row, so a
//! 201 could leave before the commit and be lost when the backend died
//! (tests/api/durability.rs). Reading on costs no extra round trip.

use chrono::{DateTime, NaiveDate, NaiveTime, SubsecRound, Utc};
use diesel::{dsl::not, prelude::*};
use diesel_async::RunQueryDsl;

use super::{Database, DbError, Write};
use crate::domain::{
    Completion, Due, Precondition, Priority, Recurrence, Reminders, Schedule, Tags, Task,
    TaskChanges, UserId, ValidationError, fold,
};

/// The owner's live tasks (not in the trash): every task route reads and
/// writes only these. The one place trashed tasks are left out.
macro_rules! live_tasks {
    ($owner:expr) => {
        tasks::user_id
            .eq($owner.as_str())
            .and(tasks::trashed_at.is_null())
    };
}

/// The owner's task `$id`, when it is live.
macro_rules! live_task {
    ($owner:expr, $id:expr) => {
        tasks::id.eq($id).and(live_tasks!($owner))
    };
}

/// The owner's trashed task `$id`.
macro_rules! trashed_task {
    ($owner:expr, $id:expr) => {
        tasks::id
            .eq($id)
            .and(tasks::user_id.eq($owner.as_str()))
            .and(tasks::trashed_at.is_not_null())
    };
}

/// A write's precondition as a condition of its `WHERE` (one statement
/// shape for all three cases, so one prepared statement).
macro_rules! meets {
    ($precondition:expr) => {{
        let (versions, unconditional) = match $precondition {
            None | Some(Precondition::Exists) => (Vec::new(), true),
            Some(Precondition::VersionIn(versions)) => (versions.clone(), false),
        };
        tasks::version
            .eq_any(versions)
            .or(unconditional.into_sql::<diesel::sql_types::Bool>())
    }};
}

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
            tasks::version,
            tasks::trashed_at,
            tasks::recur_rule,
            tasks::recur_from,
            tasks::reminders,
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
    version: i64,
    trashed_at: Option<DateTime<Utc>>,
    recur_rule: Option<String>,
    recur_from: Option<String>,
    reminders: String,
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
            tags: Tags::from_column(self.tags),
            due: Due::from_columns(
                self.due_date,
                self.due_time,
                self.due_tz.as_deref(),
                self.due_at,
            ),
            recurrence: self
                .recur_rule
                .as_deref()
                .zip(self.recur_from.as_deref())
                .and_then(|(rule, from)| Recurrence::from_column(rule, from)),
            reminders: Reminders::from_column(&self.reminders),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
            trashed_at: self.trashed_at,
        }
    }
}

/// The one row a single-task write returned, as the owner's task.
fn first(rows: Vec<TaskRow>, owner: &UserId) -> Option<Task> {
    rows.into_iter().next().map(|row| row.into_task(owner))
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

/// The plain fields a change sets (title, description, priority, tags) as
/// their columns, with the folded copies search reads; `None` where absent.
struct FieldColumns<'a> {
    title: Option<&'a str>,
    title_folded: Option<String>,
    description: Option<Option<&'a str>>,
    description_folded: Option<Option<String>>,
    tags: Option<String>,
}

impl<'a> FieldColumns<'a> {
    fn of(changes: &'a TaskChanges) -> Self {
        let title = changes.title.as_ref().map(|t| t.as_str());
        let description = changes
            .description
            .as_ref()
            .map(|d| d.as_ref().map(|d| d.as_str()));
        Self {
            title,
            title_folded: title.map(fold),
            description,
            description_folded: description.map(|d| d.map(fold)),
            tags: changes.tags.as_ref().map(Tags::to_column),
        }
    }
}

/// The SET assignments of `FieldColumns` (and the change's priority), for
/// the `tasks` of the backend `db_write!` bound: an absent (`None`)
/// assignment is left out of the SET clause.
macro_rules! field_assignments {
    ($fields:expr, $changes:expr) => {
        (
            $fields.title.map(|title| tasks::title.eq(title)),
            $fields
                .title_folded
                .as_deref()
                .map(|folded| tasks::title_folded.eq(folded)),
            $fields
                .description
                .map(|description| tasks::description.eq(description)),
            $fields
                .description_folded
                .as_ref()
                .map(|folded| tasks::description_folded.eq(folded.as_deref())),
            $changes
                .priority
                .map(|priority| tasks::priority.eq(priority.rank())),
            $fields.tags.as_deref().map(|tags| tasks::tags.eq(tags)),
        )
    };
}

mod changes;
pub mod hot;
mod list;
mod reminders;
mod schedule;
mod trash;
pub use changes::{FeedPage, feed, forget_changes_before, latest_changes};
pub use list::{Page, list};
pub use reminders::{Round, fire_due, next_reminder};
pub use schedule::find_scheduled;
use schedule::{ScheduleColumns, rewrite};
pub use trash::{empty_trash, list_trash, purge, purge_trashed_before, restore, trash};

/// The server's clock, at the microsecond precision both backends store, so
/// what is returned equals what is stored.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A write that could not be made: the database failed, or the change does
/// not fit the task as stored (a rule without a due, say): 422.
#[derive(Debug)]
pub enum WriteError {
    Db(DbError),
    Invalid(ValidationError),
}

impl From<DbError> for WriteError {
    fn from(err: DbError) -> Self {
        Self::Db(err)
    }
}

impl From<diesel::result::Error> for WriteError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// Inserts the task unless the owner already has `max_tasks` (when set):
/// `None` then. The count and the insert are one statement
/// (`INSERT … SELECT … WHERE NOT EXISTS (the owner's max_tasks-th task)`), an
/// index probe that stops at the limit, not a count of every task (trashed
/// tasks count: they are still stored). On SQLite writes are serialised, so
/// the limit is exact; on PostgreSQL concurrent creates of one user can
/// overshoot it by at most the number in flight. Without a limit there is no
/// probe: a plain `INSERT … SELECT`. `schedule` is the new task's
/// ([`Schedule::new`]), its due included.
pub async fn create(
    write: &mut Write,
    owner: &UserId,
    new: &crate::domain::NewTask,
    schedule: &Schedule,
    max_tasks: Option<u32>,
) -> Result<Option<Task>, DbError> {
    use diesel::dsl::{SqlTypeOf, exists};
    let at = now();
    let description = new.description.as_ref().map(|d| d.as_str());
    let (due_date, due_time, due_tz, due_at, due_key) = due_columns(schedule.due.as_ref());
    let (title_folded, description_folded) = (fold(new.title.as_str()), description.map(fold));
    let plan = ScheduleColumns::of(schedule);
    let rows: Vec<TaskRow> = db_write!(write, |conn| {
        let row = diesel::select((
            owner.as_str().into_sql::<SqlTypeOf<tasks::user_id>>(),
            new.title.as_str().into_sql::<SqlTypeOf<tasks::title>>(),
            description.into_sql::<SqlTypeOf<tasks::description>>(),
            false.into_sql::<SqlTypeOf<tasks::completed>>(),
            at.into_sql::<SqlTypeOf<tasks::created_at>>(),
            at.into_sql::<SqlTypeOf<tasks::updated_at>>(),
            new.priority.rank().into_sql::<SqlTypeOf<tasks::priority>>(),
            new.tags.as_column().into_sql::<SqlTypeOf<tasks::tags>>(),
            due_date.into_sql::<SqlTypeOf<tasks::due_date>>(),
            due_time.into_sql::<SqlTypeOf<tasks::due_time>>(),
            due_tz.into_sql::<SqlTypeOf<tasks::due_tz>>(),
            due_at.into_sql::<SqlTypeOf<tasks::due_at>>(),
            due_key.as_deref().into_sql::<SqlTypeOf<tasks::due_key>>(),
            Some(title_folded.as_str()).into_sql::<SqlTypeOf<tasks::title_folded>>(),
            description_folded
                .as_deref()
                .into_sql::<SqlTypeOf<tasks::description_folded>>(),
            next_version(owner.as_str()),
            plan.rule
                .as_deref()
                .into_sql::<SqlTypeOf<tasks::recur_rule>>(),
            plan.from.into_sql::<SqlTypeOf<tasks::recur_from>>(),
            plan.anchor.into_sql::<SqlTypeOf<tasks::recur_anchor>>(),
            plan.reminders
                .as_str()
                .into_sql::<SqlTypeOf<tasks::reminders>>(),
            plan.remind_at.into_sql::<SqlTypeOf<tasks::remind_at>>(),
        ));
        let columns = (
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
            tasks::version,
            tasks::recur_rule,
            tasks::recur_from,
            tasks::recur_anchor,
            tasks::reminders,
            tasks::remind_at,
        );
        let rows: Vec<TaskRow> = match max_tasks {
            // OFFSET max-1 finds the max-th task, if the owner has one.
            Some(max) => {
                let full = tasks::table
                    .filter(tasks::user_id.eq(owner.as_str()))
                    .select(tasks::id)
                    .offset(i64::from(max.max(1) - 1))
                    .limit(1);
                diesel::insert_into(tasks::table)
                    .values(row.filter(not(exists(full))))
                    .into_columns(columns)
                    .returning(task_columns!())
                    .load(conn)
                    .await?
            }
            None => {
                diesel::insert_into(tasks::table)
                    .values(row)
                    .into_columns(columns)
                    .returning(task_columns!())
                    .load(conn)
                    .await?
            }
        };
        record_changes(conn, owner.as_str(), rows.len()).await?;
        rows
    });
    Ok(first(rows, owner))
}

/// The owner's live task.
pub async fn find(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    if let Some(reads) = db.shared_reads()
        && let Some(found) = hot::find(reads, owner, id).await
    {
        return Ok(found);
    }
    // Boxed: diesel's future would make every request's future larger.
    Box::pin(async {
        let row: Option<TaskRow> = db_run!(db, |conn| {
            tasks::table
                .filter(live_task!(owner, id))
                .select(task_columns!())
                .first(conn)
                .await
                .optional()?
        });
        Ok(row.map(|row| row.into_task(owner)))
    })
    .await
}

/// The version of the owner's task, live (`trashed` false) or in the trash:
/// after a conditional write found nothing, whether the task is missing
/// (404) or its precondition failed (412, with this version's ETag).
pub async fn version_of(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    trashed: bool,
) -> Result<Option<i64>, DbError> {
    Ok(db_write!(write, |conn| {
        if trashed {
            tasks::table
                .filter(trashed_task!(owner, id))
                .select(tasks::version)
                .first(conn)
                .await
                .optional()?
        } else {
            tasks::table
                .filter(live_task!(owner, id))
                .select(tasks::version)
                .first(conn)
                .await
                .optional()?
        }
    }))
}

/// Applies the changes and moves `updated_at`; `None` when the owner has no
/// such live task or it does not meet `precondition`.
///
/// Changes that leave the schedule alone (title, description, priority,
/// tags) are one statement, as is a change of due or completion of a task
/// that neither repeats nor has reminders: that statement says so in its
/// `WHERE`. Anything else (a recurring task completed, reminders set, a
/// rule) needs the stored schedule: [`rewrite`].
pub async fn update(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
    precondition: Option<&Precondition>,
) -> Result<Option<Task>, WriteError> {
    if changes.recurrence.is_none() && changes.reminders.is_none() {
        let task = plain_update(write, owner, id, changes, precondition).await?;
        if task.is_some() || !changes.touch_schedule() {
            return Ok(task);
        }
    }
    let completion = changes.completed.map_or(Completion::Leave, Completion::Set);
    rewrite(write, owner, id, changes, completion, precondition).await
}

/// Flips `completed` in the database itself, so concurrent toggles all
/// count; a recurring task moves to its next occurrence instead ([`rewrite`]).
pub async fn toggle(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    precondition: Option<&Precondition>,
) -> Result<Option<Task>, WriteError> {
    let at = now();
    let rows: Vec<TaskRow> = db_write!(write, |conn| {
        let rows: Vec<TaskRow> = diesel::update(tasks::table)
            .filter(
                live_task!(owner, id)
                    .and(meets!(precondition))
                    .and(tasks::recur_rule.is_null()),
            )
            .set((
                tasks::completed.eq(not(tasks::completed)),
                tasks::updated_at.eq(at),
                tasks::version.eq(next_version(owner.as_str())),
            ))
            .returning(task_columns!())
            .load(conn)
            .await?;
        record_changes(conn, owner.as_str(), rows.len()).await?;
        rows
    });
    match first(rows, owner) {
        Some(task) => Ok(Some(task)),
        None => {
            let nothing = TaskChanges::default();
            rewrite(write, owner, id, &nothing, Completion::Toggle, precondition).await
        }
    }
}

/// The single-statement update: `None` also when the task repeats (for a
/// change of completion or due) or has reminders (for a change of due).
async fn plain_update(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
    precondition: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    use diesel::sql_types::Bool;
    let fields = FieldColumns::of(changes);
    let due = changes.due.as_ref().map(|due| due_columns(due.as_ref()));
    // One statement shape whatever is sent: the conditions that do not
    // apply are `OR true`.
    let any_rule = (changes.due.is_none() && changes.completed.is_none()).into_sql::<Bool>();
    let any_reminders = changes.due.is_none().into_sql::<Bool>();
    let at = now();
    let rows: Vec<TaskRow> = db_write!(write, |conn| {
        let rows: Vec<TaskRow> = diesel::update(tasks::table)
            .filter(
                live_task!(owner, id)
                    .and(meets!(precondition))
                    .and(tasks::recur_rule.is_null().or(any_rule))
                    .and(tasks::reminders.eq("").or(any_reminders)),
            )
            // An absent (`None`) assignment is left out of the SET clause.
            .set((
                field_assignments!(fields, changes),
                changes
                    .completed
                    .map(|completed| tasks::completed.eq(completed)),
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
                tasks::version.eq(next_version(owner.as_str())),
            ))
            .returning(task_columns!())
            .load(conn)
            .await?;
        record_changes(conn, owner.as_str(), rows.len()).await?;
        rows
    });
    Ok(first(rows, owner))
}

/// Folds the search text of rows written before 1.1 that the migration
/// could not fold in SQL (non-ASCII text): a batch at a time, until none is
/// left. Returns how many rows it folded. Run at start-up, after migrating.
/// (Not a change of the task's: its version stays.)
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
            let mut write = db.write().await?;
            db_write!(write, |conn| {
                diesel::update(tasks::table.filter(tasks::id.eq(id)))
                    .set((
                        tasks::title_folded.eq(&title),
                        tasks::description_folded.eq(&description),
                    ))
                    .execute(conn)
                    .await?
            });
            write.commit().await?;
            folded += 1;
        }
    }
}
