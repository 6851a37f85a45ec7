//! Every line of diesel lives here: the pool, the migrations, the queries.

mod schema;
pub mod tasks;

use std::time::Duration;

use diesel::result::DatabaseErrorKind;
use diesel_async::{
    AsyncConnection, AsyncPgConnection, RunQueryDsl,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
        deadpool::{Object, Pool, PoolError},
    },
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How the pool behaves; every field comes from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_size: usize,
    /// Longest wait for a free connection (and for a new one to be made).
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
                if is_server_going_away(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            _ => Self::Query(err),
        }
    }
}

/// PostgreSQL's messages for shutdown, restart and connection exhaustion
/// (SQLSTATE 57P01–57P03, 53300), which diesel reports as `Unknown`.
fn is_server_going_away(message: &str) -> bool {
    [
        "terminating connection",
        "the database system is",
        "too many connections",
        "remaining connection slots",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A pool of PostgreSQL connections; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
}

impl Database {
    /// Builds the pool without connecting: connections are made on first use.
    pub fn new(url: &str, settings: PoolSettings) -> anyhow::Result<Self> {
        let mut config = ManagerConfig::default();
        // `Verified` would send `SELECT 1` before every request; a broken
        // connection is dropped by the pool anyway when a query on it fails.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(settings.max_size)
            .wait_timeout(Some(settings.timeout))
            .create_timeout(Some(settings.timeout))
            .recycle_timeout(Some(settings.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()?;
        Ok(Self { pool })
    }

    pub(crate) async fn connection(&self) -> Result<Object<AsyncPgConnection>, DbError> {
        Ok(self.pool.get().await?)
    }

    /// One round trip that proves the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.connection().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

/// Applies pending migrations over a dedicated connection; returns their names.
///
/// diesel's migration harness is synchronous: it runs on a blocking thread
/// through `AsyncConnectionWrapper`, which works on any tokio runtime.
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let conn = AsyncPgConnection::establish(url).await?;
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|err| anyhow::anyhow!("applying migrations failed: {err}"))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await?
}
