//! What wakes the streams of an instance when another instance (or this
//! one) writes: PostgreSQL notifications on one dedicated connection, or,
//! without a direct URL (and while that connection is down), a poll of the
//! watched users' change numbers. Both run only while streams are open, so
//! an instance without streams keeps no connection open and sends no query
//! (a Neon compute can suspend).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Hub;
use crate::db::{self, Database, ListenTarget};

/// How long the listening connection stays open after the last stream closed.
const LINGER: Duration = Duration::from_secs(30);
/// The longest wait between two attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Users per poll query.
const POLL_BATCH: usize = 500;
/// How often a listening instance tells writers it still listens.
const REFRESH: Duration = Duration::from_secs(30);
/// When streams read again after the listener registered: a write that
/// looked for listeners just before may commit after the first read.
const REREADS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

/// Starts the feeder for a PostgreSQL database: the listener when there is
/// a direct URL, and the poller (which stands in while nothing listens).
pub fn spawn(
    db: Database,
    listen: Option<ListenTarget>,
    hub: Hub,
    poll_every: Duration,
    stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let listening = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![tokio::spawn(poll(
        db,
        hub.clone(),
        poll_every,
        Arc::clone(&listening),
        stop.clone(),
    ))];
    if let Some(target) = listen {
        tasks.push(tokio::spawn(listen_loop(target, hub, listening, stop)));
    }
    tasks
}

/// Resolves once no stream has been open for `LINGER`.
async fn idle(hub: &Hub) {
    let mut open = hub.open_streams();
    loop {
        if open.wait_for(|open| *open == 0).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(LINGER) => return,
            _ = open.wait_for(|open| *open > 0) => {}
        }
    }
}

async fn listen_loop(
    target: ListenTarget,
    hub: Hub,
    listening: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let mut open = hub.open_streams();
    let mut backoff = Duration::from_millis(100);
    let instance = instance_id();
    loop {
        tokio::select! {
            _ = open.wait_for(|open| *open > 0) => {}
            () = stop.cancelled() => return,
        }
        match target.listen(&instance).await {
            Ok(mut notifications) => {
                tracing::info!("events: listening for changes at {}", target.summary());
                listening.store(true, Ordering::SeqCst);
                backoff = Duration::from_millis(100);
                // Whatever was written while nobody listened, now and once
                // more for writes that had looked for listeners just before.
                hub.wake_all();
                let listened = tokio::time::Instant::now();
                let mut rereads = REREADS.iter().map(|after| listened + *after);
                let mut reread = rereads.next();
                let mut refresh = tokio::time::interval_at(listened + REFRESH, REFRESH);
                loop {
                    tokio::select! {
                        owner = notifications.owners.recv() => match owner {
                            Some(owner) => hub.wake(&owner),
                            None => {
                                tracing::warn!("events: the listening connection closed; polling until it is back");
                                break;
                            }
                        },
                        () = sleep_until(reread), if reread.is_some() => {
                            hub.wake_all();
                            reread = rereads.next();
                        }
                        _ = refresh.tick() => {
                            if let Err(cause) = notifications.refresh().await {
                                tracing::warn!(%cause, "events: cannot tell writers this instance listens");
                            }
                        }
                        () = idle(&hub) => {
                            notifications.close().await;
                            break;
                        }
                        () = stop.cancelled() => {
                            notifications.close().await;
                            return;
                        }
                    }
                }
                listening.store(false, Ordering::SeqCst);
            }
            Err(cause) => {
                tracing::warn!(%cause, "events: cannot listen at {}; polling, retrying in {backoff:?}", target.summary());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A name for this process among the listeners: random, so two instances
/// never share one.
fn instance_id() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness (it cannot fail on Linux), the process id will do.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = u64::from(std::process::id()).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn poll(
    db: Database,
    hub: Hub,
    every: Duration,
    listening: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let watched = hub.watched();
        if listening.load(Ordering::SeqCst) || watched.is_empty() {
            seen.clear();
            continue;
        }
        seen.retain(|owner, _| watched.contains(owner));
        for owners in watched.chunks(POLL_BATCH) {
            match db::tasks::latest_changes(&db, owners).await {
                Ok(latest) => {
                    if failing {
                        tracing::info!("events: polling works again");
                        failing = false;
                    }
                    for (owner, seq) in latest {
                        // A user seen for the first time is woken too: its
                        // stream may have read before this change.
                        if seen.insert(owner.clone(), seq) != Some(seq) {
                            hub.wake(&owner);
                        }
                    }
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(cause = %err, "events: polling for changes failed; retrying");
                        failing = true;
                    }
                    seen.clear();
                    break;
                }
            }
        }
    }
}
