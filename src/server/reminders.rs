//! The reminder poller: fires reminders when their moment comes, on every
//! instance at once without firing one twice (`db::tasks::fire_due`).
//!
//! It sleeps until the soonest reminder the database holds, at most
//! `REMINDER_POLL_MAX_SECS` (60 s), and this instance's own writes of a task
//! with reminders wake it early (a new reminder may be sooner). A reminder
//! written through another instance is fired by that one's poller; this one
//! learns of it at its next look, so the longest sleep bounds how late a
//! reminder can be when the instance that wrote it is gone. Each look is
//! one indexed query: with nothing due, a database is asked once a minute,
//! which keeps a Neon compute that suspends after five idle minutes awake;
//! a longer sleep lets it suspend, at the price of that lateness.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{self, Database},
    live::Hub,
};

/// Tasks a round fires at most (the rest go in the next round, at once).
const BATCH: i64 = 200;
/// The wait after a failed round, doubling up to the longest sleep.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Wakes the poller early: shared with the write routes.
#[derive(Clone, Default)]
pub struct ReminderClock(Arc<Notify>);

impl ReminderClock {
    /// A reminder may have been set sooner than the poller's next look.
    pub fn reminders_changed(&self) {
        self.0.notify_one();
    }
}

/// Runs the poller until `stop`.
pub fn spawn(
    db: Database,
    hub: Hub,
    clock: ReminderClock,
    longest_sleep: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        loop {
            let sleep = match round(&db, &hub).await {
                Ok(Some(sleep)) => {
                    retry = FIRST_RETRY;
                    sleep.min(longest_sleep)
                }
                Ok(None) => {
                    retry = FIRST_RETRY;
                    longest_sleep
                }
                Err(err) => {
                    tracing::warn!(error = %err, "firing reminders failed; retrying");
                    retry = (retry * 2).min(longest_sleep);
                    retry
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = clock.0.notified() => {}
                () = stop.cancelled() => return,
            }
        }
    })
}

/// Fires what is due, then says how long until the next reminder (`None`:
/// there is none).
async fn round(db: &Database, hub: &Hub) -> Result<Option<Duration>, db::DbError> {
    loop {
        let round = db::tasks::fire_due(db, Utc::now(), BATCH).await?;
        for owner in &round.owners {
            hub.wake(owner.as_str());
        }
        if round.fired > 0 {
            crate::telemetry::reminders_fired(round.fired);
            tracing::debug!(
                fired = round.fired,
                skipped = round.skipped,
                "reminders fired"
            );
        }
        if !round.more {
            break;
        }
    }
    let Some(next) = db::tasks::next_reminder(db).await? else {
        return Ok(None);
    };
    // Reminders another instance holds locked are due now too: look again soon.
    Ok(Some(
        (next - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_millis(50))
            .max(Duration::from_millis(50)),
    ))
}
