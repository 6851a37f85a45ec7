//! Every line of diesel lives here: the pools, the migrations, the queries.
//!
//! Two backends serve the same contract: PostgreSQL (production, Neon) and an
//! embedded SQLite file (the zero-config default). Each query is written once;
//! `db_run!` compiles it for whichever backend the pool holds.

mod postgres;
mod schema;
mod shared;

use std::{path::Path, sync::Arc, time::Duration};

use diesel::{ConnectionError, result::DatabaseErrorKind, sqlite::SqliteConnection};
use diesel_async::{
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
        deadpool::{Object, Pool, PoolError},
    },
    sync_connection_wrapper::SyncConnectionWrapper,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The two trees hold the same migration names (a unit test below checks it).
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

type SqliteAsync = SyncConnectionWrapper<SqliteConnection>;

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend
/// `$db` uses and that backend's `schema` module in scope (`tasks`, `Backend`,
/// and what SQL spells differently): one query body, compiled once per
/// backend. A pool error returns `DbError` from the caller. For reads:
/// writes go through a [`Write`] and `db_write!`.
macro_rules! db_run {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.pool() {
            $crate::db::Pools::Postgres(pool, _) => {
                #[allow(unused_imports)]
                use $crate::db::schema::pg::*;
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                let $conn = &mut *pooled;
                $body
            }
            $crate::db::Pools::Sqlite(pool) => {
                #[allow(unused_imports)]
                use $crate::db::schema::sqlite::*;
                let mut pooled = pool.get().await.map_err($crate::db::DbError::from)?;
                let $conn = &mut *pooled;
                $body
            }
        }
    };
}

/// `db_run!` for a [`Write`]: `$body` runs on its connection, inside its
/// transaction when it has one.
macro_rules! db_write {
    ($write:expr, |$conn:ident| $body:expr) => {
        match $write.conn() {
            $crate::db::Conn::Postgres($conn) => {
                #[allow(unused_imports)]
                use $crate::db::schema::pg::*;
                $body
            }
            $crate::db::Conn::Sqlite($conn) => {
                #[allow(unused_imports)]
                use $crate::db::schema::sqlite::*;
                $body
            }
        }
    };
}

/// One connection's writes, from [`Database::write`] or
/// [`Database::transaction`], ended by [`Write::commit`].
///
/// On SQLite it is always a `BEGIN IMMEDIATE` transaction: the write lock is
/// taken first, where the busy timeout applies (a plain autocommit write
/// starts as a reader and fails at once with "database is locked" when
/// another writer commits in between), and a write and the change number it
/// records commit together. On PostgreSQL `write` runs autocommit statements
/// (one statement is one round trip) and `transaction` a `BEGIN … COMMIT`.
///
/// Dropped inside a transaction — an error, or the request's future
/// cancelled (the client left, the request timed out) — it takes its
/// connection out of the pool and closes it, which rolls the transaction
/// back, instead of handing the next request a connection with a transaction
/// still open.
pub struct Write {
    conn: Option<Pooled>,
    in_transaction: bool,
}

#[expect(
    clippy::large_enum_variant,
    reason = "one per request, moved once: boxing would only add an allocation"
)]
enum Pooled {
    Postgres(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteAsync>),
}

/// A [`Write`]'s connection, for `db_write!`.
pub(crate) enum Conn<'a> {
    Postgres(&'a mut AsyncPgConnection),
    Sqlite(&'a mut SqliteAsync),
}

/// How a [`Write`] runs its statements.
#[derive(Clone, Copy)]
enum Mode {
    Autocommit,
    Transaction,
    /// Reads only, all from one snapshot.
    Snapshot,
}

impl Write {
    async fn begin(db: &Database, mode: Mode) -> Result<Self, DbError> {
        let (conn, begin) = match db.pool() {
            Pools::Postgres(pool, _) => (
                Pooled::Postgres(pool.get().await?),
                match mode {
                    Mode::Autocommit => None,
                    Mode::Transaction => Some("BEGIN"),
                    Mode::Snapshot => Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                },
            ),
            // A deferred BEGIN reads from one snapshot of the WAL until it ends.
            Pools::Sqlite(pool) => (
                Pooled::Sqlite(pool.get().await?),
                Some(match mode {
                    Mode::Snapshot => "BEGIN",
                    Mode::Autocommit | Mode::Transaction => "BEGIN IMMEDIATE",
                }),
            ),
        };
        // Armed before BEGIN is sent: a cancellation while it runs counts too.
        let mut write = Self {
            conn: Some(conn),
            in_transaction: begin.is_some(),
        };
        if let Some(begin) = begin {
            write.execute(begin).await?;
        }
        Ok(write)
    }

    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self
            .conn
            .as_mut()
            .expect("a write holds its connection until it ends")
        {
            Pooled::Postgres(conn) => Conn::Postgres(conn),
            Pooled::Sqlite(conn) => Conn::Sqlite(conn),
        }
    }

    async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        match self.conn() {
            Conn::Postgres(conn) => conn.batch_execute(sql).await?,
            Conn::Sqlite(conn) => conn.batch_execute(sql).await?,
        }
        Ok(())
    }

    /// Rolls back what was written (nothing, when the write was answered
    /// before it began) and gives the connection back to the pool.
    pub async fn rollback(mut self) -> Result<(), DbError> {
        if self.in_transaction {
            self.execute("ROLLBACK").await?;
        }
        self.in_transaction = false;
        Ok(())
    }

    /// Commits what was written and gives the connection back to the pool.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if self.in_transaction {
            self.execute("COMMIT").await?;
        }
        self.in_transaction = false;
        Ok(())
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        if !self.in_transaction {
            return;
        }
        match self.conn.take() {
            Some(Pooled::Postgres(conn)) => drop(Object::take(conn)),
            Some(Pooled::Sqlite(conn)) => drop(Object::take(conn)),
            None => {}
        }
    }
}

pub mod idempotency;
pub mod tasks;

/// The channel the 1.3 migration's trigger notifies, with the owner as payload.
pub const CHANGES_CHANNEL: &str = "todo_api_changes";

/// A PostgreSQL database to LISTEN on (over `NEON_DIRECT_URL`: a pooler in
/// transaction mode drops LISTEN).
pub struct ListenTarget(postgres::ConnectOptions);

/// An open LISTEN connection and the owners its notifications name.
pub struct Notifications {
    client: tokio_postgres::Client,
    instance: String,
    pub owners: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Registers (or refreshes) the listening instance in `change_listeners`:
/// while a row is fresh, writes notify (see the 1.3 migration).
const REGISTER_LISTENER: &str = "INSERT INTO change_listeners (instance, seen_at) VALUES ($1, now()) \
     ON CONFLICT (instance) DO UPDATE SET seen_at = now()";

impl Notifications {
    /// Tells writers this instance still listens (every 30 s; a row older
    /// than 90 s no longer counts).
    pub async fn refresh(&self) -> Result<(), String> {
        self.client
            .execute(REGISTER_LISTENER, &[&self.instance])
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    }

    /// Stops listening, and tells writers so.
    pub async fn close(self) {
        let _ = self
            .client
            .execute(
                "DELETE FROM change_listeners WHERE instance = $1",
                &[&self.instance],
            )
            .await;
    }
}

impl ListenTarget {
    pub fn parse(url: &str, connect_timeout: Duration) -> Result<Self, OpenError> {
        postgres::ConnectOptions::parse(url, connect_timeout)
            .map(Self)
            .map_err(OpenError::Refused)
    }

    /// Where it connects, for logs (never a password).
    pub fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Connects, listens for changes, then registers as `instance` (so
    /// writes start notifying); the error says why, without secrets.
    pub async fn listen(&self, instance: &str) -> Result<Notifications, String> {
        let (client, owners) = self.0.listen(CHANGES_CHANNEL).await?;
        let notifications = Notifications {
            client,
            instance: instance.to_owned(),
            owners,
        };
        notifications.refresh().await?;
        Ok(notifications)
    }
}

/// How the pool behaves; every field comes from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_size: usize,
    /// PostgreSQL connections shared by the hot reads, beside the pool
    /// (`db::shared`); 0: every read takes a pooled connection.
    pub read_connections: usize,
    /// Longest wait for a free connection (and for a new one to be made);
    /// also SQLite's busy timeout for a locked database.
    pub timeout: Duration,
}

/// What can go wrong talking to the database, as far as callers need to know.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached, or is too busy: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug on our side, never caused by client input.
    #[error("database error: {0}")]
    Query(diesel::result::Error),
}

impl From<PoolError> for DbError {
    fn from(err: PoolError) -> Self {
        // Pool errors are timeouts or failed connects; their Display carries
        // no connection string (tokio-postgres never prints the password).
        Self::Unavailable(err.to_string())
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::Error::DatabaseError;
        match &err {
            DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_transient(info.message()) || is_read_only(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            _ => Self::Query(err),
        }
    }
}

/// Why the database could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Waiting may heal it: the server is down, starting, full or waking up,
    /// the SQLite file is locked by another process.
    #[error("{0}")]
    Unavailable(String),
    /// Waiting will not: no such database or role, a wrong password, a
    /// certificate that does not verify, a file that cannot be opened or
    /// written. One line saying what to change (no password, no URL).
    #[error("{0}")]
    Refused(String),
}

/// Messages diesel reports as `Unknown` that mean "try again later":
/// PostgreSQL shutting down, restarting or out of connections (SQLSTATE
/// 57P01–57P03, 53300), and SQLite still locked after its busy timeout.
fn is_transient(message: &str) -> bool {
    [
        "terminating connection",
        "the database system is",
        "too many connections",
        "remaining connection slots",
        "database is locked",
        "database table is locked",
        "database or disk is full",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// SQLite may not write the file (its permissions, a read-only mount): it
/// opened it read-only without a word. Not the request's fault nor a bug,
/// and it lasts until the operator acts.
fn is_read_only(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("attempt to write a readonly database")
}

/// What SQLite's `message` about the file at `path` means at start-up: only
/// a lock held by another process (or a full disk) may pass by waiting.
/// (Failures to open carry SQLite's name for the code, "Unable to open the
/// database file"; later ones its message, "unable to open database file".)
fn sqlite_open_error(path: &str, message: &str) -> OpenError {
    let lower = message.to_ascii_lowercase();
    if is_transient(&lower) || lower.contains("locked") || lower.contains("busy") {
        return OpenError::Unavailable(message.to_owned());
    }
    OpenError::Refused(if is_read_only(message) {
        format!(
            "{path} is read-only to this process ({message}) — let its user write the file \
             and its folder, or choose another path"
        )
    } else if lower.contains("unable to open") {
        format!(
            "cannot open {path} ({message}) — it must be a file, or not exist yet, in a \
             folder this process may write"
        )
    } else if lower.contains("not a database") {
        format!("{path} is not an SQLite database ({message}) — choose another path")
    } else {
        format!("cannot use {path}: {message}")
    })
}

/// The pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub in_use: usize,
    pub waiting: usize,
}

#[derive(Clone)]
pub(crate) enum Pools {
    /// With how its connections are made, for start-up's own (which say why
    /// they fail).
    Postgres(Pool<AsyncPgConnection>, Arc<postgres::ConnectOptions>),
    Sqlite(Pool<SqliteAsync>),
}

/// A pool of database connections; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pools: Pools,
    /// PostgreSQL's shared read connections, when configured.
    shared: Option<Arc<shared::SharedReads>>,
    /// Where the data is, for logs: host, database and TLS, or the file.
    summary: String,
}

impl Database {
    /// A PostgreSQL pool. Connections are made on first use, over TLS as the
    /// URL's `sslmode` says (a remote host's certificate is verified by default).
    pub fn postgres(url: &str, settings: PoolSettings) -> Result<Self, OpenError> {
        let options = Arc::new(
            postgres::ConnectOptions::parse(url, settings.timeout).map_err(OpenError::Refused)?,
        );
        let mut config = ManagerConfig::default();
        // `Verified` would send `SELECT 1` before every request; a broken
        // connection is dropped by the pool anyway when a query on it fails.
        config.recycling_method = RecyclingMethod::Fast;
        let summary = options.summary.clone();
        config.custom_setup = Box::new({
            let options = Arc::clone(&options);
            move |_url| {
                let options = Arc::clone(&options);
                Box::pin(async move { options.connect().await })
            }
        });
        // The manager's own URL is unused: connections come from `custom_setup`.
        let manager = AsyncDieselConnectionManager::new_with_config(summary.clone(), config);
        let shared = (settings.read_connections > 0).then(|| {
            Arc::new(shared::SharedReads::new(
                settings.read_connections,
                Arc::clone(&options),
                tasks::hot::STATEMENTS,
            ))
        });
        Ok(Self {
            pools: Pools::Postgres(build_pool(manager, settings)?, options),
            shared,
            summary,
        })
    }

    /// A pool over the SQLite file at `path`, created with its folder if missing.
    /// Every connection runs in WAL mode and waits (up to the pool timeout) for
    /// a lock rather than failing with "database is locked".
    pub fn sqlite(path: &Path, settings: PoolSettings) -> Result<Self, OpenError> {
        let shown = path.display();
        if path.is_dir() {
            return Err(OpenError::Refused(format!(
                "{shown} is a folder — name the database file, e.g. {}",
                path.join("todo.db").display()
            )));
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                // std says "File exists" when a file stands where a folder
                // should be: name that file instead.
                let blocker = dir
                    .ancestors()
                    .find(|dir| std::fs::symlink_metadata(dir).is_ok())
                    .filter(|found| !found.is_dir());
                OpenError::Refused(match blocker {
                    Some(file) => format!(
                        "{} is a file, not a folder, so {shown} cannot be created in it — \
                         choose another path",
                        file.display()
                    ),
                    None => format!(
                        "cannot create the folder {} ({err}) — create it, or choose another path",
                        dir.display()
                    ),
                })
            })?;
        }
        // busy_timeout first: even switching to WAL needs a lock, and a new
        // connection opened while another writes must wait for it, not fail.
        let pragmas = format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            settings.timeout.as_millis()
        );
        let mut config = ManagerConfig::<SqliteAsync>::default();
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let (url, pragmas) = (url.to_owned(), pragmas.clone());
            Box::pin(async move {
                let mut conn = SqliteAsync::establish(&url).await?;
                conn.batch_execute(&pragmas)
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
        let path = path.to_str().ok_or_else(|| {
            OpenError::Refused(format!("{shown} is not UTF-8 — choose another path"))
        })?;
        let manager = AsyncDieselConnectionManager::new_with_config(path, config);
        Ok(Self {
            pools: Pools::Sqlite(build_pool(manager, settings)?),
            shared: None,
            summary: path.to_owned(),
        })
    }

    pub(crate) fn pool(&self) -> &Pools {
        &self.pools
    }

    /// The shared read connections, when there are.
    pub(crate) fn shared_reads(&self) -> Option<&Arc<shared::SharedReads>> {
        self.shared.as_ref()
    }

    /// Opens the shared read connections (a failure is logged: reads use
    /// the pool until one is made); nothing without them.
    pub async fn connect_shared_reads(&self) {
        if let Some(shared) = &self.shared {
            shared.connect().await;
        }
    }

    /// How many shared read connections are open now (0 without them).
    pub fn shared_reads_open(&self) -> usize {
        self.shared.as_ref().map_or(0, |shared| shared.open_count())
    }

    /// A connection to write with: one autocommit statement at a time on
    /// PostgreSQL, a transaction on SQLite (see [`Write`]).
    pub async fn write(&self) -> Result<Write, DbError> {
        Write::begin(self, Mode::Autocommit).await
    }

    /// A transaction on both backends, for several statements that must
    /// commit together (a write and its idempotency record).
    pub async fn transaction(&self) -> Result<Write, DbError> {
        Write::begin(self, Mode::Transaction).await
    }

    /// A read-only transaction whose statements all see the same committed
    /// state, for a read that takes several (the change feed's snapshot);
    /// it takes no write lock on SQLite. End it with `commit`.
    pub async fn snapshot(&self) -> Result<Write, DbError> {
        Write::begin(self, Mode::Snapshot).await
    }

    /// Where the data is, for logs (never a password).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The pool now: connections open, in use, and requests waiting for one.
    pub fn pool_status(&self) -> PoolStatus {
        let status = match &self.pools {
            Pools::Postgres(pool, _) => pool.status(),
            Pools::Sqlite(pool) => pool.status(),
        };
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }

    /// Closes idle connections and refuses new checkouts (at shutdown).
    pub fn close(&self) {
        if let Some(shared) = &self.shared {
            shared.close();
        }
        match &self.pools {
            Pools::Postgres(pool, _) => pool.close(),
            Pools::Sqlite(pool) => pool.close(),
        }
    }

    /// One round trip that proves the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), DbError> {
        use diesel_async::RunQueryDsl;
        db_run!(self, |conn| {
            diesel::sql_query("SELECT 1").execute(conn).await?;
        });
        Ok(())
    }

    /// PostgreSQL's `synchronous_commit`, when it is `off`: a commit is then
    /// reported before its WAL reaches disk, and a crash of PostgreSQL can
    /// lose writes already answered 201. Never on SQLite (see `sqlite`).
    pub async fn commits_may_be_lost(&self) -> Result<bool, DbError> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            synchronous_commit: String,
        }
        let Pools::Postgres(pool, _) = &self.pools else {
            return Ok(false);
        };
        let mut conn = pool.get().await?;
        let setting: Setting = diesel::sql_query("SHOW synchronous_commit")
            .get_result(&mut *conn)
            .await?;
        Ok(setting.synchronous_commit == "off")
    }

    /// Applies pending migrations; returns the names of those applied.
    ///
    /// diesel's migration harness is synchronous: it runs on a blocking thread
    /// over a connection of its own, through `AsyncConnectionWrapper`, which
    /// works on any tokio runtime. PostgreSQL's is made here rather than by
    /// the pool, whose errors are only text: a failure says whether waiting
    /// may heal it.
    pub async fn migrate(&self) -> Result<Vec<String>, OpenError> {
        let applied = self.run_migrations().await?;
        // Rows from before 1.1 whose text SQL could not fold (see the 1.1
        // migration): once, after it; a no-op (one indexed probe) after that.
        let folded = tasks::fold_unfolded(self).await.map_err(|err| {
            OpenError::Unavailable(format!("folding task text for search failed: {err}"))
        })?;
        if folded > 0 {
            tracing::info!(tasks = folded, "folded pre-1.1 task text for search");
        }
        Ok(applied)
    }

    async fn run_migrations(&self) -> Result<Vec<String>, OpenError> {
        type Failure = Box<dyn std::error::Error + Send + Sync>;
        fn run<C>(conn: C, migrations: EmbeddedMigrations) -> Result<Vec<String>, Failure>
        where
            AsyncConnectionWrapper<C>: MigrationHarness<C::Backend>,
            C: AsyncConnection,
        {
            let mut conn = AsyncConnectionWrapper::<C>::from(conn);
            let applied = conn.run_pending_migrations(migrations)?;
            Ok(applied.iter().map(ToString::to_string).collect())
        }
        let stopped = |err: tokio::task::JoinError| {
            OpenError::Unavailable(format!("the migrations stopped: {err}"))
        };
        match &self.pools {
            Pools::Postgres(_, options) => {
                let conn = options.connect_at_start_up().await?;
                let applied = tokio::task::spawn_blocking(move || run(conn, PG_MIGRATIONS))
                    .await
                    .map_err(stopped)?;
                applied.map_err(|err| {
                    let message = err.to_string();
                    if message.contains("permission denied") {
                        OpenError::Refused(format!(
                            "{message} on {} (database {}) — the URL's role may not create \
                             the tables: grant it CREATE on the schema, or migrate as the \
                             database's owner",
                            options.hosts, options.dbname
                        ))
                    } else {
                        OpenError::Unavailable(format!("applying migrations failed: {message}"))
                    }
                })
            }
            Pools::Sqlite(pool) => {
                let mut conn = pool.get().await.map_err(|err| self.sqlite_error(err))?;
                // In one exclusive transaction (each migration a savepoint in
                // it): a second server starting on the same new file waits
                // for the first one's migrations, then finds none pending,
                // instead of applying them again ("table tasks already exists").
                let applied = conn
                    .spawn_blocking(|conn| {
                        let mut failure = None;
                        let applied = conn.exclusive_transaction(|conn| {
                            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                                .map(|applied| applied.iter().map(ToString::to_string).collect())
                                .map_err(|err| {
                                    failure = Some(err.to_string());
                                    diesel::result::Error::RollbackTransaction
                                })
                        });
                        Ok(match failure {
                            Some(failure) => Err(failure),
                            None => applied.map_err(|err| err.to_string()),
                        })
                    })
                    .await
                    .map_err(|err| sqlite_open_error(&self.summary, &err.to_string()))?;
                applied.map_err(|err| sqlite_open_error(&self.summary, &err))
            }
        }
    }

    /// Start-up's check that the database can be used as it will be, after
    /// `migrate`. PostgreSQL: one connection (needed only when the migrations
    /// ran over another URL). SQLite: a write that changes nothing. SQLite
    /// opens a file it may only read read-only without a word, its
    /// migrations may all be applied already, and every write would then fail.
    pub async fn check_at_start_up(&self) -> Result<(), OpenError> {
        match &self.pools {
            Pools::Postgres(_, options) => options.connect_at_start_up().await.map(drop),
            Pools::Sqlite(pool) => {
                let mut conn = pool.get().await.map_err(|err| self.sqlite_error(err))?;
                conn.batch_execute(
                    "UPDATE __diesel_schema_migrations SET version = version WHERE 0",
                )
                .await
                .map_err(|err| sqlite_open_error(&self.summary, &err.to_string()))
            }
        }
    }

    /// A failed SQLite checkout, without deadpool's wrapping.
    fn sqlite_error(&self, err: PoolError) -> OpenError {
        match err {
            PoolError::Backend(err) => sqlite_open_error(&self.summary, &err.to_string()),
            other => OpenError::Unavailable(other.to_string()),
        }
    }
}

fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    settings: PoolSettings,
) -> Result<Pool<C>, OpenError>
where
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C>,
{
    // Fails only without a runtime, which is set.
    Pool::builder(manager)
        .max_size(settings.max_size)
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|err| OpenError::Refused(err.to_string()))
}

#[cfg(test)]
mod tests {
    use diesel::migration::MigrationSource;
    use diesel_async::RunQueryDsl;

    use super::*;

    fn names(source: EmbeddedMigrations) -> Vec<String> {
        MigrationSource::<diesel::pg::Pg>::migrations(&source)
            .expect("embedded migrations")
            .iter()
            .map(|m| m.name().to_string())
            .collect()
    }

    async fn sqlite(max_size: usize) -> (Database, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "todo-api-unit-{}-{}.db",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let settings = PoolSettings {
            max_size,
            read_connections: 0,
            timeout: Duration::from_secs(5),
        };
        let db = Database::sqlite(&path, settings).unwrap();
        db.migrate().await.unwrap();
        (db, path)
    }

    async fn write_one(db: &Database) -> Result<(), DbError> {
        let owner = crate::domain::UserId::new("alice");
        let new = crate::domain::NewTask {
            title: crate::domain::TaskTitle::parse("t").unwrap(),
            description: None,
            priority: Default::default(),
            tags: Default::default(),
            due: None,
            recurrence: None,
            reminders: Default::default(),
        };
        let schedule = crate::domain::Schedule::new(&new, chrono::Utc::now()).unwrap();
        let mut write = db.write().await?;
        tasks::create(&mut write, &owner, &new, &schedule, None).await?;
        write.commit().await
    }

    /// Why `Write` closes a connection dropped inside its transaction: one
    /// given back to the pool there breaks the next write on it.
    #[tokio::test]
    async fn a_connection_returned_inside_a_transaction_breaks_the_next_write() {
        let (db, path) = sqlite(1).await;
        let Pools::Sqlite(pool) = db.pool() else {
            unreachable!()
        };
        let mut conn = pool.get().await.unwrap();
        conn.batch_execute("BEGIN IMMEDIATE").await.unwrap();
        drop(conn);
        assert!(write_one(&db).await.is_err());
        let _ = std::fs::remove_file(path);
    }

    /// A write abandoned between BEGIN and COMMIT (its future dropped) costs
    /// its connection, never the next request, and stores nothing.
    #[tokio::test]
    async fn a_write_abandoned_inside_its_transaction_leaves_the_pool_healthy() {
        let (db, path) = sqlite(1).await;
        let Pools::Sqlite(pool) = db.pool() else {
            unreachable!()
        };
        let mut write = db.write().await.unwrap();
        let Conn::Sqlite(conn) = write.conn() else {
            unreachable!()
        };
        diesel::sql_query(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at) \
             VALUES ('alice', 'abandoned', 0, '2026-01-01', '2026-01-01')",
        )
        .execute(conn)
        .await
        .unwrap();
        drop(write);
        assert_eq!(pool.status().size, 0, "the connection left the pool");
        write_one(&db).await.expect("the next write works");
        let owner = crate::domain::UserId::new("alice");
        let query = crate::domain::ListQuery::everything();
        let titles: Vec<String> = tasks::list(&db, &owner, &query)
            .await
            .unwrap()
            .tasks
            .into_iter()
            .map(|task| task.title)
            .collect();
        assert_eq!(titles, ["t"], "the abandoned insert was rolled back");
        let _ = std::fs::remove_file(path);
    }

    /// A file SQLite may only read (permissions changed under a running
    /// server, a read-only mount) is the operator's to fix: 503, not 500.
    #[tokio::test]
    async fn a_write_to_a_read_only_sqlite_file_is_unavailable_not_a_bug() {
        let (db, path) = sqlite(1).await;
        let mut read_only = SqliteAsync::establish(&format!("file:{}?mode=ro", path.display()))
            .await
            .unwrap();
        let err = diesel::sql_query(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at) \
             VALUES ('alice', 't', 0, '2026-01-01', '2026-01-01')",
        )
        .execute(&mut read_only)
        .await
        .unwrap_err();
        match DbError::from(err) {
            DbError::Unavailable(message) => assert!(message.contains("readonly"), "{message}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        drop(db);
        let _ = std::fs::remove_file(path);
    }

    /// What the maintenance job deletes: outcomes older than the cutoff,
    /// and a lookup ignores them already.
    #[tokio::test]
    async fn idempotency_outcomes_expire() {
        use crate::domain::{IdempotencyKey, UserId};
        let (db, path) = sqlite(1).await;
        let (owner, key) = (UserId::new("alice"), IdempotencyKey::parse("k").unwrap());
        let outcome = idempotency::Outcome {
            fingerprint: vec![1; 32],
            status: 201,
            headers: vec![("etag".to_owned(), "\"1\"".to_owned())],
            body: b"{}".to_vec(),
        };
        let mut write = db.transaction().await.unwrap();
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let claim = idempotency::claim(&mut write, &owner, &key, since)
            .await
            .unwrap();
        assert!(matches!(claim, idempotency::Claim::First), "{claim:?}");
        idempotency::save(&mut write, &owner, &key, &outcome)
            .await
            .unwrap();
        write.commit().await.unwrap();

        let mut write = db.transaction().await.unwrap();
        match idempotency::claim(&mut write, &owner, &key, since)
            .await
            .unwrap()
        {
            idempotency::Claim::Answered(found) => assert_eq!(found, outcome),
            other => panic!("{other:?}"),
        }
        let later = chrono::Utc::now() + chrono::Duration::seconds(1);
        let claim = idempotency::claim(&mut write, &owner, &key, later)
            .await
            .unwrap();
        assert!(
            matches!(claim, idempotency::Claim::First),
            "expired: {claim:?}"
        );
        write.rollback().await.unwrap();

        assert_eq!(idempotency::delete_expired(&db, since).await.unwrap(), 0);
        assert_eq!(idempotency::delete_expired(&db, later).await.unwrap(), 1);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let pg = names(PG_MIGRATIONS);
        assert!(!pg.is_empty());
        assert_eq!(pg, names(SQLITE_MIGRATIONS));
    }
}
