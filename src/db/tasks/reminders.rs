//! Firing reminders, exactly once across instances.
//!
//! A round takes the owners whose reminders are due, locks their change
//! counters (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so instances running at
//! once take different owners and none waits for another; SQLite:
//! `BEGIN IMMEDIATE` serialises them), then, in that transaction, moves each
//! due task's `remind_at` on and counts the fired reminder. The
//! `tasks_reminded` trigger writes the `reminder` change under the owner's
//! next change number. The change and the move commit together: a round
//! that dies (its instance killed, its connection cut) rolls back whole and
//! the next round, on any instance, fires the same reminders; one that
//! commits has moved them past, so nothing fires twice.
//!
//! The counter first, then the task rows: the order every write of the
//! owner's takes (its statement takes the next change number before it
//! locks the task's row), so a round and a write never deadlock.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Database, DbError};
use crate::domain::{Due, Reminders, UserId};

/// What a round did.
#[derive(Debug, Default)]
pub struct Round {
    /// Reminders fired (each a `reminder` change).
    pub fired: usize,
    /// Reminders passed over: their task was done or in the trash.
    pub skipped: usize,
    /// The owners whose feeds gained a change, to wake their streams.
    pub owners: Vec<UserId>,
    /// More were due than one round takes.
    pub more: bool,
}

type DueRow = (
    i64,
    String,
    bool,
    Option<DateTime<Utc>>,
    (
        Option<NaiveDate>,
        Option<NaiveTime>,
        Option<String>,
        Option<DateTime<Utc>>,
    ),
    String,
    Option<DateTime<Utc>>,
);

/// Fires the reminders due at `now`, at most `batch` tasks' worth.
pub async fn fire_due(db: &Database, now: DateTime<Utc>, batch: i64) -> Result<Round, DbError> {
    let mut owners: Vec<String> = db_run!(db, |conn| {
        tasks::table
            .filter(tasks::remind_at.le(now))
            .order(tasks::remind_at.asc())
            .select(tasks::user_id)
            .limit(batch)
            .load(conn)
            .await?
    });
    if owners.is_empty() {
        return Ok(Round::default());
    }
    owners.sort_unstable();
    owners.dedup();
    let mut write = db.transaction().await?;
    let round = db_write!(write, |conn| {
        let owners = lock_counters(conn, &owners).await?;
        let rows: Vec<DueRow> = tasks::table
            .filter(tasks::user_id.eq_any(&owners).and(tasks::remind_at.le(now)))
            .order(tasks::remind_at.asc())
            .select((
                tasks::id,
                tasks::user_id,
                tasks::completed,
                tasks::trashed_at,
                (
                    tasks::due_date,
                    tasks::due_time,
                    tasks::due_tz,
                    tasks::due_at,
                ),
                tasks::reminders,
                tasks::remind_at,
            ))
            .limit(batch)
            .load(conn)
            .await?;
        let mut round = Round {
            more: rows.len() as i64 == batch,
            ..Round::default()
        };
        for (id, owner, completed, trashed_at, (date, time, zone, at), reminders, moment) in rows {
            let Some(mut moment) = moment else { continue };
            let due = Due::from_columns(date, time, zone.as_deref(), at);
            let reminders = Reminders::from_column(&reminders);
            if completed || trashed_at.is_some() {
                diesel::update(tasks::table.find(id))
                    .set(tasks::remind_at.eq(reminders.next_after(due.as_ref(), now)))
                    .execute(conn)
                    .await?;
                round.skipped += 1;
                continue;
            }
            // One change per reminder, even when several are due at once
            // (after an outage): the trigger records each update.
            loop {
                let next = reminders.next_after(due.as_ref(), moment);
                diesel::update(tasks::table.find(id))
                    .set((
                        tasks::remind_at.eq(next),
                        tasks::reminders_fired.eq(tasks::reminders_fired + 1),
                    ))
                    .execute(conn)
                    .await?;
                round.fired += 1;
                match next {
                    Some(next) if next <= now => moment = next,
                    _ => break,
                }
            }
            let owner = UserId::new(owner);
            if !round.owners.contains(&owner) {
                round.owners.push(owner);
            }
        }
        round
    });
    write.commit().await?;
    Ok(round)
}

/// The soonest moment a reminder is for, fired or not yet.
pub async fn next_reminder(db: &Database) -> Result<Option<DateTime<Utc>>, DbError> {
    let soonest: Option<Option<DateTime<Utc>>> = db_run!(db, |conn| {
        tasks::table
            .filter(tasks::remind_at.is_not_null())
            .order(tasks::remind_at.asc())
            .select(tasks::remind_at)
            .first(conn)
            .await
            .optional()?
    });
    Ok(soonest.flatten())
}
