//! The server's own periodic work: purging tasks that have been in the trash
//! longer than `TRASH_RETENTION_DAYS`, deleting change-feed rows older than
//! that too, and idempotency records older than `IDEMPOTENCY_RETENTION_HOURS`.
//!
//! It runs at start-up (the database was just woken by the migrations) and
//! then every `MAINTENANCE_INTERVAL_SECS` (an hour): a database with nothing
//! to clean gets three small indexed queries an hour, so a Neon compute that
//! suspends when idle is woken at most once an hour by it. Several instances
//! may run it at once: each statement deletes only rows still there, and an
//! owner's purge takes that owner's change numbers like any other write.

use std::time::Duration;

use chrono::Utc;

use crate::{
    db::{self, Database},
    live::Hub,
};

/// What the job keeps and how often it runs.
#[derive(Debug, Clone, Copy)]
pub struct Maintenance {
    pub trash_retention: Duration,
    pub idempotency_retention: Duration,
    pub interval: Duration,
}

impl Maintenance {
    /// Runs the job now and then every `interval`, until the task is aborted.
    /// Purges wake this instance's event streams (other instances hear of
    /// them from the database).
    pub fn spawn(self, db: Database, hub: Hub) -> tokio::task::JoinHandle<()> {
        tokio::spawn(every(self.interval, move || {
            let (db, hub) = (db.clone(), hub.clone());
            async move {
                if self.run_once(&db).await {
                    hub.wake_all();
                }
            }
        }))
    }

    /// One pass; failures are logged and retried at the next tick. A pass
    /// with nothing to do is three indexed queries. True when it purged tasks.
    pub async fn run_once(&self, db: &Database) -> bool {
        let now = Utc::now();
        let before = |kept: Duration| now - chrono::Duration::from_std(kept).unwrap_or_default();
        let purged = match db::tasks::purge_trashed_before(db, before(self.trash_retention)).await {
            Ok(0) => false,
            Ok(purged) => {
                tracing::info!(tasks = purged, "purged tasks past the trash retention");
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "purging the trash failed; retrying later");
                false
            }
        };
        // Purge records are kept as long as trashed tasks: a client that
        // last synced within TRASH_RETENTION_DAYS still hears of every purge.
        // (At least a day, even when trashed tasks go at once.)
        let changes_kept = self.trash_retention.max(Duration::from_secs(86_400));
        match db::tasks::forget_changes_before(db, before(changes_kept)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(changes = deleted, "deleted changes past the retention"),
            Err(err) => tracing::warn!(
                error = %err,
                "deleting old changes failed; retrying later"
            ),
        }
        match db::idempotency::delete_expired(db, before(self.idempotency_retention)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(keys = deleted, "deleted expired idempotency keys"),
            Err(err) => tracing::warn!(
                error = %err,
                "deleting expired idempotency keys failed; retrying later"
            ),
        }
        purged
    }
}

/// Runs `pass` now and then once per `interval`, for ever. A pass that took
/// long (or a suspended machine) does not make the next ones come in a burst.
async fn every<F, Fut>(interval: Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        pass().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    /// What keeps an idle Neon compute asleep: one pass at start-up, then one
    /// an hour, however long a pass takes.
    #[tokio::test(start_paused = true)]
    async fn the_job_runs_at_start_up_then_once_an_interval() {
        let passes = Arc::new(AtomicUsize::new(0));
        let job = tokio::spawn(every(Duration::from_secs(3600), {
            let passes = Arc::clone(&passes);
            move || {
                let passes = Arc::clone(&passes);
                async move {
                    passes.fetch_add(1, Ordering::SeqCst);
                    // A slow pass (a big purge) does not shift the schedule into a burst.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                }
            }
        }));
        let count_after = async |secs| {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            passes.load(Ordering::SeqCst)
        };
        assert_eq!(count_after(1).await, 1, "at start-up");
        assert_eq!(count_after(3598).await, 1, "none more within the hour");
        assert_eq!(count_after(2).await, 2, "the next on the hour");
        assert_eq!(count_after(3 * 3600).await, 5, "then one an hour");
        job.abort();
    }
}
