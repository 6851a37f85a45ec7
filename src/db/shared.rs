//! The hot reads (one task, a small page of the default listing) pipelined
//! over a few connections shared by every request (`DB_READ_CONNECTIONS`,
//! PostgreSQL only).
//!
//! A tokio-postgres client sends each query as soon as it is asked and
//! matches the answers in order, so concurrent requests on one connection
//! keep it busy without waiting for each other: PostgreSQL reads the next
//! query while the previous answer travels, and the pool of 16 (still there,
//! for every write, every other read and the fallbacks below) is not touched.
//! The statements are prepared once per connection (protocol-level prepared
//! statements: safe through PgBouncer ≥ 1.21 in transaction mode, as Neon's
//! pooler runs).
//!
//! Nothing here can make a read fail that the pool would have answered, nor
//! wait longer: a connection that is not there yet, is being made, or has
//! just failed sends the request to the pool; a broken one is dropped and
//! made again in the background when a request finds it missing (at most
//! once a second per slot while the database stays unreachable). A pooler that loses prepared statements
//! (SQLSTATE 26000) turns the shared reads off for good, with one warning.
//! Only small answers come here (see `tasks::hot`), and each request reads
//! its rows to the end before its response is written, so neither a large
//! page nor a slow client holds a shared connection.

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::try_join_all;
use tokio_postgres::{Client, Row, Statement, error::SqlState, types::ToSql};

use super::postgres::{ConnectOptions, describe};

/// How long a slot whose connection could not be made waits before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct SharedReads {
    slots: Box<[Slot]>,
    next: AtomicUsize,
    options: Arc<ConnectOptions>,
    /// The SQL of every statement, prepared on each connection in this order.
    statements: &'static [&'static str],
    /// Set for good when a pooler loses prepared statements.
    off: AtomicBool,
}

#[derive(Default)]
struct Slot {
    conn: RwLock<Option<Arc<Shared>>>,
    /// One request at a time makes the slot's connection; the others use the pool.
    connecting: AtomicBool,
    /// When the last attempt failed.
    failed_at: Mutex<Option<Instant>>,
}

/// An open shared connection and its prepared statements.
struct Shared {
    client: Client,
    statements: Vec<Statement>,
}

impl SharedReads {
    /// `count` slots (at least one), connected on first use.
    pub(crate) fn new(
        count: usize,
        options: Arc<ConnectOptions>,
        statements: &'static [&'static str],
    ) -> Self {
        Self {
            slots: (0..count.max(1)).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            options,
            statements,
            off: AtomicBool::new(false),
        }
    }

    /// The rows of statement `index` with `params`, read to the end; `None`
    /// when the caller should ask the pool instead.
    pub(crate) async fn query(
        self: &Arc<Self>,
        index: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Option<Vec<Row>> {
        if self.off.load(Ordering::Relaxed) {
            return None;
        }
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[at];
        let current = slot.conn.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(shared) = current else {
            // Made in the background: this request does not wait for it.
            self.reconnect(at);
            return None;
        };
        match shared.client.query(&shared.statements[index], params).await {
            Ok(rows) => Some(rows),
            Err(err) => {
                self.failed(slot, &shared, &err);
                None
            }
        }
    }

    /// Opens every slot's connection (at start-up, so the first requests
    /// find them); a failure is a warning, the slot is made again later.
    pub(crate) async fn connect(&self) {
        let slots = (0..self.slots.len())
            .filter(|&at| !self.slots[at].connecting.swap(true, Ordering::Acquire));
        futures_util::future::join_all(slots.map(|at| self.fill(at))).await;
    }

    /// Starts making slot `at`'s connection, unless it is being made or the
    /// last attempt failed under a second ago.
    fn reconnect(self: &Arc<Self>, at: usize) {
        let slot = &self.slots[at];
        let recent = slot
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|failed| failed.elapsed() < RETRY_AFTER);
        if recent || slot.connecting.swap(true, Ordering::Acquire) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move { this.fill(at).await });
    }

    /// Makes slot `at`'s connection; its `connecting` flag is set by the caller.
    async fn fill(&self, at: usize) {
        let slot = &self.slots[at];
        let made = self.open().await;
        *slot.failed_at.lock().unwrap_or_else(|e| e.into_inner()) =
            made.is_none().then(Instant::now);
        if let Some(shared) = made
            && !self.off.load(Ordering::Relaxed)
        {
            *slot.conn.write().unwrap_or_else(|e| e.into_inner()) = Some(shared);
        }
        slot.connecting.store(false, Ordering::Release);
    }

    async fn open(&self) -> Option<Arc<Shared>> {
        let opened = async {
            let client = self.options.client().await?;
            // Prepared together: one round trip's wait, not one per statement.
            let statements = try_join_all(self.statements.iter().map(|sql| client.prepare(sql)))
                .await
                .map_err(|err| describe(&err))?;
            Ok::<_, String>(Shared { client, statements })
        };
        match opened.await {
            Ok(shared) => Some(Arc::new(shared)),
            Err(cause) => {
                tracing::warn!(%cause, "a shared read connection could not be made: reads use the pool meanwhile");
                None
            }
        }
    }

    fn failed(&self, slot: &Slot, shared: &Arc<Shared>, err: &tokio_postgres::Error) {
        if err.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) {
            if !self.off.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the database lost a prepared statement (a pooler without prepared-statement \
                     support?): shared reads are off, every read uses the pool; \
                     set DB_READ_CONNECTIONS=0 to say so"
                );
            }
        } else {
            tracing::warn!(cause = %describe(err), "a shared read failed: read again from the pool");
        }
        if shared.client.is_closed() || self.off.load(Ordering::Relaxed) {
            let mut conn = slot.conn.write().unwrap_or_else(|e| e.into_inner());
            if conn.as_ref().is_some_and(|now| Arc::ptr_eq(now, shared)) {
                *conn = None;
            }
        }
    }

    /// Open connections now.
    pub(crate) fn open_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| {
                slot.conn
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_some_and(|shared| !shared.client.is_closed())
            })
            .count()
    }

    /// Closes the connections (at shutdown); later reads use the pool.
    pub(crate) fn close(&self) {
        self.off.store(true, Ordering::Relaxed);
        for slot in &self.slots {
            slot.conn.write().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}
