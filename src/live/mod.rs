//! Live changes: the event streams of `GET /api/{user_id}/events` and what
//! wakes them. A stream reads the change feed (`db::tasks::feed`) from where
//! its client is, then waits for a wake-up from the [`Hub`] and reads again:
//! the database is the only source of changes, so a stream has no gap and
//! no duplicate, whichever instance wrote, however late it woke.

pub mod feeder;
mod hub;

use std::{collections::VecDeque, time::Duration};

use futures_util::Stream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use hub::{Hub, Subscription};

use crate::{
    db::{self, Database, tasks::FeedPage},
    domain::{Change, Since, UserId},
};

/// Changes a stream reads from the database at a time.
pub const STREAM_PAGE: u32 = 500;
/// The first wait after a failed read, doubled up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// How the instance serves event streams; from configuration.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// A comment line this often keeps proxies from closing an idle stream.
    pub keep_alive: Duration,
    /// Streams one user may hold open on one instance.
    pub max_streams_per_user: usize,
    /// How often the watched users' change numbers are polled when nothing
    /// listens (`EVENTS_POLL_MS`).
    pub poll_every: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(15),
            max_streams_per_user: 5,
            poll_every: Duration::from_millis(1000),
        }
    }
}

/// The instance's live side; cheap to clone.
#[derive(Clone)]
pub struct Live {
    pub hub: Hub,
    pub settings: LiveSettings,
    /// Cancelled at shutdown: every stream ends.
    pub stop: CancellationToken,
}

impl Live {
    pub fn new(settings: LiveSettings) -> Self {
        Self {
            hub: Hub::default(),
            settings,
            stop: CancellationToken::new(),
        }
    }
}

/// Where a stream is and what it still has to send.
struct StreamState {
    db: Database,
    owner: UserId,
    subscription: Subscription,
    pending: VecDeque<Change>,
    next: Since,
    more: bool,
    ends_at: Instant,
    stop: CancellationToken,
}

/// The changes of `owner`'s feed from `first` (the page the request read,
/// after subscribing) on, live, until `ends_at` (the token's expiry), until
/// the server stops, or until the feed can no longer be read from where the
/// stream is (the client reconnects and is told why).
pub fn stream(
    db: Database,
    owner: UserId,
    subscription: Subscription,
    first: FeedPage,
    ends_at: Instant,
    stop: CancellationToken,
) -> impl Stream<Item = Change> + Send + 'static {
    let state = StreamState {
        db,
        owner,
        subscription,
        pending: first.changes.into(),
        next: first.next,
        more: first.more,
        ends_at,
        stop,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let change = state.next_change().await?;
        Some((change, state))
    })
}

impl StreamState {
    /// The next change to send, waiting for one; `None` ends the stream.
    async fn next_change(&mut self) -> Option<Change> {
        let mut retry = FIRST_RETRY;
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Some(change);
            }
            if self.stop.is_cancelled() || Instant::now() >= self.ends_at {
                return None;
            }
            if !self.more {
                tokio::select! {
                    woken = self.subscription.wake.changed() => woken.ok()?,
                    () = self.stop.cancelled() => return None,
                    () = tokio::time::sleep_until(self.ends_at) => return None,
                }
            }
            // Marked read before reading: a wake-up during the read is not lost.
            self.subscription.wake.mark_unchanged();
            match db::tasks::feed(&self.db, &self.owner, self.next, STREAM_PAGE).await {
                Ok(Ok(page)) => {
                    self.pending = page.changes.into();
                    self.next = page.next;
                    self.more = page.more;
                    retry = FIRST_RETRY;
                }
                // Only the retention can do this to a stream that read
                // before: its client reconnects and gets the 410.
                Ok(Err(_)) => return None,
                Err(err) => {
                    tracing::warn!(cause = %err, "events: a stream cannot read its changes; retrying in {retry:?}");
                    self.more = true;
                    tokio::select! {
                        () = tokio::time::sleep(retry) => {}
                        () = self.stop.cancelled() => return None,
                        () = tokio::time::sleep_until(self.ends_at) => return None,
                    }
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }
}
