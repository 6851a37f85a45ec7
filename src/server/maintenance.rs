//! The server's own periodic work: purging tasks that have been in the trash
//! longer than `TRASH_RETENTION_DAYS`, and deleting idempotency records older
//! than `IDEMPOTENCY_RETENTION_HOURS`. The one place background work starts.
//!
//! It runs at start-up (the database was just woken by the migrations) and
//! then every `MAINTENANCE_INTERVAL_SECS` (an hour): a database with nothing
//! to clean gets two small indexed queries an hour, so a Neon compute that
//! suspends when idle is woken at most once an hour by it. Several instances
//! may run it at once: each statement deletes only rows still there, and an
//! owner's purge takes that owner's change numbers like any other write.

use std::time::Duration;

use chrono::Utc;

use crate::db::{self, Database};

/// What the job keeps and how often it runs.
#[derive(Debug, Clone, Copy)]
pub struct Maintenance {
    pub trash_retention: Duration,
    pub idempotency_retention: Duration,
    pub interval: Duration,
}

impl Maintenance {
    /// Runs the job now and then every `interval`, until the task is dropped.
    pub fn spawn(self, db: Database) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.interval);
            // A run that took long (or a suspended machine) does not make the
            // next ones come in a burst.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                self.run_once(&db).await;
            }
        })
    }

    /// One pass; failures are logged and retried at the next tick.
    pub async fn run_once(&self, db: &Database) {
        let now = Utc::now();
        let before = |kept: Duration| now - chrono::Duration::from_std(kept).unwrap_or_default();
        match db::tasks::purge_trashed_before(db, before(self.trash_retention)).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(tasks = purged, "purged tasks past the trash retention"),
            Err(err) => tracing::warn!(error = %err, "purging the trash failed; retrying later"),
        }
        match db::idempotency::delete_expired(db, before(self.idempotency_retention)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(keys = deleted, "deleted expired idempotency keys"),
            Err(err) => tracing::warn!(
                error = %err,
                "deleting expired idempotency keys failed; retrying later"
            ),
        }
    }
}
