//! Writes that need a task's stored schedule: a recurring task's
//! completion moves it to its next occurrence, and any change to its due
//! date, rule or reminders works out the next reminder's moment. These
//! read the task, compute its new schedule in the domain
//! ([`Schedule::change`]), and write it back only if the task's version is
//! still the one read (else read again): two statements where the plain
//! writes of `tasks.rs` take one.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Database, DbError, FieldColumns, TaskRow, Write, WriteError, due_columns, first, now};
use crate::domain::{Completion, Precondition, Schedule, Series, Task, TaskChanges, UserId};

/// A schedule as its columns: the rule, what it repeats from, its anchor
/// and count, the reminders and the next reminder's moment.
pub(super) struct ScheduleColumns {
    pub(super) rule: Option<String>,
    pub(super) from: Option<&'static str>,
    pub(super) anchor: Option<NaiveDateTime>,
    pub(super) done: i32,
    pub(super) reminders: String,
    pub(super) remind_at: Option<DateTime<Utc>>,
}

impl ScheduleColumns {
    pub(super) fn of(schedule: &Schedule) -> Self {
        let series = schedule.series.as_ref();
        Self {
            rule: series.map(|s| s.recurrence.rule().to_owned()),
            from: series.map(|s| s.recurrence.repeat_from.as_str()),
            anchor: series.map(|s| s.anchor),
            done: series.map_or(0, |s| i32::try_from(s.done).unwrap_or(i32::MAX)),
            reminders: schedule.reminders.to_column(),
            remind_at: schedule.remind_at,
        }
    }
}

/// A task row with its schedule's own columns: anchor, count, next reminder.
type ScheduledRow = (TaskRow, Option<NaiveDateTime>, i32, Option<DateTime<Utc>>);

macro_rules! scheduled_columns {
    () => {
        (
            task_columns!(),
            tasks::recur_anchor,
            tasks::recur_done,
            tasks::remind_at,
        )
    };
}

fn scheduled(owner: &UserId, (row, anchor, done, remind_at): ScheduledRow) -> (Task, Schedule) {
    let task = row.into_task(owner);
    let schedule = Schedule {
        due: task.due.clone(),
        series: task
            .recurrence
            .clone()
            .zip(anchor)
            .map(|(recurrence, anchor)| Series {
                recurrence,
                anchor,
                done: u32::try_from(done).unwrap_or(0),
            }),
        completed: task.completed,
        reminders: task.reminders.clone(),
        remind_at,
    };
    (task, schedule)
}

/// The owner's live task and its stored schedule (for its occurrences).
pub async fn find_scheduled(
    db: &Database,
    owner: &UserId,
    id: i64,
) -> Result<Option<(Task, Schedule)>, DbError> {
    let row: Option<ScheduledRow> = db_run!(db, |conn| {
        tasks::table
            .filter(live_task!(owner, id))
            .select(scheduled_columns!())
            .first(conn)
            .await
            .optional()?
    });
    Ok(row.map(|row| scheduled(owner, row)))
}

/// The same, read on the write's connection (inside its transaction when it
/// has one).
async fn find_scheduled_for_write(
    write: &mut Write,
    owner: &UserId,
    id: i64,
) -> Result<Option<(Task, Schedule)>, DbError> {
    let row: Option<ScheduledRow> = db_write!(write, |conn| {
        tasks::table
            .filter(live_task!(owner, id))
            .select(scheduled_columns!())
            .first(conn)
            .await
            .optional()?
    });
    Ok(row.map(|row| scheduled(owner, row)))
}

/// How many times a read-then-write is tried again when another write of
/// the task came between its read and its write.
const REWRITE_ATTEMPTS: usize = 8;

/// A write that needs the stored schedule: read the task, work out its new
/// schedule ([`Schedule::change`]), and write everything back in one
/// statement that only applies if the task's version is still the one read
/// (else read again). Two statements (three after a [`plain_update`] that
/// did not apply): the price of a recurring task or reminders.
pub(super) async fn rewrite(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
    completion: Completion,
    precondition: Option<&Precondition>,
) -> Result<Option<Task>, WriteError> {
    for _ in 0..REWRITE_ATTEMPTS {
        let Some((task, stored)) = find_scheduled_for_write(write, owner, id).await? else {
            return Ok(None);
        };
        if precondition.is_some_and(|p| !p.is_met_by(task.version)) {
            return Ok(None);
        }
        let schedule = stored
            .change(changes, completion, Utc::now())
            .map_err(WriteError::Invalid)?;
        if schedule == stored && !changes.touch_fields() {
            // `completed: false` on a pending recurring task: nothing to write.
            return Ok(Some(task));
        }
        if let Some(task) = write_schedule(write, owner, &task, changes, &schedule).await? {
            return Ok(Some(task));
        }
    }
    Err(WriteError::Db(DbError::Unavailable(
        "the task kept changing while it was being written".to_owned(),
    )))
}

/// Writes `changes` and `schedule` over `task` if its version is still the
/// one read.
async fn write_schedule(
    write: &mut Write,
    owner: &UserId,
    task: &Task,
    changes: &TaskChanges,
    schedule: &Schedule,
) -> Result<Option<Task>, DbError> {
    let fields = FieldColumns::of(changes);
    let (due_date, due_time, due_tz, due_at, due_key) = due_columns(schedule.due.as_ref());
    let plan = ScheduleColumns::of(schedule);
    let at = now();
    let rows: Vec<TaskRow> = db_write!(write, |conn| {
        let rows: Vec<TaskRow> = diesel::update(tasks::table)
            .filter(live_task!(owner, task.id).and(tasks::version.eq(task.version)))
            .set((
                field_assignments!(fields, changes),
                (
                    tasks::completed.eq(schedule.completed),
                    tasks::due_date.eq(due_date),
                    tasks::due_time.eq(due_time),
                    tasks::due_tz.eq(due_tz),
                    tasks::due_at.eq(due_at),
                    tasks::due_key.eq(due_key.as_deref()),
                ),
                (
                    tasks::recur_rule.eq(plan.rule.as_deref()),
                    tasks::recur_from.eq(plan.from),
                    tasks::recur_anchor.eq(plan.anchor),
                    tasks::recur_done.eq(plan.done),
                    tasks::reminders.eq(plan.reminders.as_str()),
                    tasks::remind_at.eq(plan.remind_at),
                ),
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
