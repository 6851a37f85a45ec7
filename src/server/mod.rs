//! Start-up and shutdown of the HTTP server.

mod connections;
pub mod maintenance;
pub mod reminders;

pub use connections::ConnectionLimits;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    api::rate_limit::RateLimits,
    api::{AppState, IdempotencySettings, Services},
    app::build_app,
    auth::{TokenVerifier, mint_token},
    config::{Config, ConfigError, DatabaseConfig},
    db::{Database, ListenTarget, OpenError, PoolSettings},
    live::{Live, feeder},
};

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The user dev mode prints a token for, and how long that token lasts.
pub const DEMO_USER: &str = "demo-user";
const DEMO_TOKEN_TTL_SECS: u64 = 24 * 3600;

/// Opens the configured database (creating an SQLite file if needed) and
/// applies pending migrations, over `NEON_DIRECT_URL` when one is set. A
/// database that does not answer yet (a Neon compute waking up) is retried
/// with backoff for `DB_STARTUP_TIMEOUT_SECS`, saying what it waits for;
/// one that refuses for good (no such database or role, a wrong password, a
/// certificate that does not verify, a file that cannot be written) stops
/// start-up at once with a [`ConfigError`] naming the variable to change.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let deadline = Instant::now() + config.startup_timeout;
    let (db, variable, direct) = match &config.database {
        DatabaseConfig::Postgres {
            url,
            variable,
            direct_url,
        } => {
            let db = Database::postgres(url.expose(), config.pool)
                .map_err(|err| unusable(variable, err))?;
            tracing::info!("database: PostgreSQL at {} from {variable}", db.summary());
            let direct = match direct_url {
                Some(direct) => {
                    let settings = PoolSettings {
                        max_size: 1,
                        read_connections: 0,
                        ..config.pool
                    };
                    let direct = Database::postgres(direct.expose(), settings)
                        .map_err(|err| unusable("NEON_DIRECT_URL", err))?;
                    tracing::info!("migrations: over NEON_DIRECT_URL, {}", direct.summary());
                    Some(direct)
                }
                None => None,
            };
            (db, *variable, direct)
        }
        DatabaseConfig::Sqlite { path, variable } => {
            tracing::info!(
                "database: SQLite file {} (embedded; set NEON_DB_URL for PostgreSQL)",
                path.display()
            );
            let db = Database::sqlite(path, config.pool).map_err(|err| unusable(variable, err))?;
            (db, *variable, None)
        }
    };
    let applied = match &direct {
        Some(direct) => {
            let applied = wait_for("NEON_DIRECT_URL", config, deadline, || direct.migrate()).await;
            direct.close();
            applied?
        }
        None => wait_for(variable, config, deadline, || db.migrate()).await?,
    };
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    // Nothing has connected over the main URL yet when the migrations ran
    // over NEON_DIRECT_URL; SQLite has not written anything when they were
    // all applied already.
    if direct.is_some() || matches!(config.database, DatabaseConfig::Sqlite { .. }) {
        wait_for(variable, config, deadline, || db.check_at_start_up()).await?;
    }
    db.connect_shared_reads().await;
    if db.commits_may_be_lost().await.unwrap_or(false) {
        tracing::warn!(
            "PostgreSQL runs with synchronous_commit = off: a crash of the database can lose \
             writes that were already answered 201 (set it to on for durable acknowledgements)"
        );
    }
    Ok(db)
}

/// Runs `step` until it succeeds, retrying what may heal with backoff until
/// `deadline`; what will not heal is a [`ConfigError`] naming `variable`.
async fn wait_for<T, F, Fut>(
    variable: &'static str,
    config: &Config,
    deadline: Instant,
    mut step: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OpenError>>,
{
    let mut delay = Duration::from_millis(250);
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(err @ OpenError::Refused(_)) => return Err(unusable(variable, err).into()),
            Err(OpenError::Unavailable(why)) if Instant::now() + delay < deadline => {
                tracing::warn!("waiting for the database ({why}); retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(OpenError::Unavailable(why)) => {
                return Err(anyhow::anyhow!(
                    "{variable}: the database is still unavailable after \
                     DB_STARTUP_TIMEOUT_SECS ({} s): {why}",
                    config.startup_timeout.as_secs()
                ));
            }
        }
    }
}

/// A database that refuses for good, as the configuration error it is.
fn unusable(variable: &'static str, err: OpenError) -> ConfigError {
    ConfigError::Unusable {
        var: variable,
        reason: err.to_string(),
    }
}

/// Binds the listener, migrates the database and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // The port first: a second server started by mistake stops here, before
    // it creates or migrates anything.
    let listener = TcpListener::bind(SocketAddr::new(config.host, config.port))
        .await
        .map_err(|err| ConfigError::Invalid {
            var: "PORT",
            reason: format!(
                "cannot listen on {}:{} ({err}); stop whatever uses it or choose another PORT (or HOST)",
                config.host, config.port
            ),
        })?;
    let addr = listener
        .local_addr()
        .context("the listener has no address")?;
    let limits = connection_limits(&config);
    let db = open_database(&config).await?;
    let verifier = Arc::new(token_verifier(&config));
    // Better Auth may not be up yet: fetch its keys in the background.
    tokio::spawn({
        let verifier = Arc::clone(&verifier);
        async move { verifier.prefetch().await }
    });
    let live = Live::new(config.live);
    let feeder = spawn_feeder(&config, &db, &live)?;
    let state = AppState::new(Services {
        db: db.clone(),
        verifier,
        max_tasks_per_user: config.max_tasks_per_user,
        idempotency: IdempotencySettings::new(config.idempotency_retention),
        live: live.clone(),
        reminders: reminders::ReminderClock::default(),
        limits: Arc::new(RateLimits::new(config.rate_limits)),
        metrics: config.metrics_enabled.then(crate::telemetry::recorder),
    });
    let limits_cleanup = spawn_rate_limit_cleanup(Arc::clone(&state.limits));
    let reminder_poller = reminders::spawn(
        db.clone(),
        live.hub.clone(),
        state.reminders.clone(),
        config.reminder_poll_max,
        live.stop.clone(),
    );
    let app = build_app(
        state,
        &config.cors_origins,
        config.request_timeout,
        &config.mcp_allowed_hosts,
    );
    let maintenance = maintenance::Maintenance {
        trash_retention: config.trash_retention,
        idempotency_retention: config.idempotency_retention,
        interval: config.maintenance_interval,
    }
    .spawn(db.clone(), live.hub.clone());

    tracing::info!("listening on http://{addr} (Swagger UI at http://{addr}/docs)");
    if let (true, Some(secret)) = (config.auth.dev_mode, &config.auth.shared_secret) {
        let ttl_secs = demo_token_ttl_secs(&config);
        print_dev_mode_banner(
            addr,
            &mint_token(secret.expose(), DEMO_USER, ttl_secs),
            ttl_secs,
        );
    }

    let shutdown = {
        let stop = live.stop.clone();
        async move {
            shutdown_signal().await;
            // Event streams end now; other requests get the grace period.
            stop.cancel();
        }
    };
    connections::serve(listener, app, limits, shutdown, SHUTDOWN_GRACE).await?;
    live.stop.cancel();
    for task in feeder {
        task.abort();
    }
    // A purge or a round of reminders cut short rolls back: its connection
    // is closed with it.
    maintenance.abort();
    limits_cleanup.abort();
    reminder_poller.abort();
    db.close();
    tracing::info!("stopped");
    Ok(())
}

/// Every minute, forgets the users and addresses whose allowance is whole
/// again: the limiters hold only recent callers.
fn spawn_rate_limit_cleanup(limits: Arc<RateLimits>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            limits.forget_idle();
        }
    })
}

/// What wakes the event streams on PostgreSQL: LISTEN over `NEON_DIRECT_URL`
/// when it is set, polling every `EVENTS_POLL_MS` otherwise (and while the
/// listening connection is down). On SQLite every write is this process's,
/// and it wakes its streams itself after COMMIT.
fn spawn_feeder(
    config: &Config,
    db: &Database,
    live: &Live,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let DatabaseConfig::Postgres { direct_url, .. } = &config.database else {
        return Ok(Vec::new());
    };
    let target = match direct_url {
        Some(url) => Some(
            ListenTarget::parse(url.expose(), config.pool.timeout)
                .map_err(|err| unusable("NEON_DIRECT_URL", err))?,
        ),
        None => {
            tracing::info!(
                "events: no NEON_DIRECT_URL, so streams learn of other instances' writes by \
                 polling every {} ms (EVENTS_POLL_MS)",
                config.live.poll_every.as_millis()
            );
            None
        }
    };
    Ok(feeder::spawn(
        db.clone(),
        target,
        live.hub.clone(),
        config.live.poll_every,
        live.stop.clone(),
    ))
}

/// File descriptors kept for everything but client connections: the
/// database pool, Better Auth's key fetches, the SQLite files, logs.
const RESERVED_FDS: u64 = 64;

/// The configured connection limits, with `MAX_CONNECTIONS` lowered to what
/// the file-descriptor limit allows (after raising the soft limit to the
/// hard one): past it `accept` would fail, and so would the database pool.
fn connection_limits(config: &Config) -> ConnectionLimits {
    let mut limits = config.connections;
    let fds = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft));
    if let Ok(fds) = fds {
        // A pooled SQLite connection holds up to three files (the database,
        // its WAL and shared memory); a PostgreSQL one, one socket.
        let reserved = RESERVED_FDS + 3 * config.pool.max_size as u64;
        let room = usize::try_from(fds.saturating_sub(reserved).max(1)).unwrap_or(usize::MAX);
        if room < limits.max_connections {
            tracing::warn!(
                "MAX_CONNECTIONS lowered from {} to {room}: the process may open only {fds} files \
                 (raise `ulimit -n` / LimitNOFILE= for more)",
                limits.max_connections
            );
            limits.max_connections = room;
        }
    }
    limits
}

/// A verifier for every configured token path.
pub fn token_verifier(config: &Config) -> TokenVerifier {
    let auth = &config.auth;
    let mut verifier = TokenVerifier::default();
    if let Some(secret) = &auth.shared_secret {
        verifier = verifier.and_shared_secret(secret.expose(), auth.leeway_secs);
        if auth.dev_mode {
            verifier = verifier.and_dev_mode(DEMO_USER);
        } else {
            tracing::info!("tokens: HS256 signed with BETTER_AUTH_SECRET");
        }
    }
    if let Some(jwks) = &auth.jwks {
        tracing::info!(url = %jwks.url, issuer = %jwks.issuer, audience = %jwks.audience, "tokens: Better Auth JWKS");
        verifier = verifier.and_jwks(jwks.clone(), auth.leeway_secs);
    }
    if let Some(max_ttl_secs) = auth.max_ttl_secs {
        tracing::info!(
            max_ttl_secs,
            "tokens: refusing those valid for longer (JWT_MAX_TTL_SECS)"
        );
    }
    verifier.and_max_ttl(auth.max_ttl_secs)
}

/// How long dev mode's demo token lasts: a day, or less when
/// `JWT_MAX_TTL_SECS` would refuse a day.
fn demo_token_ttl_secs(config: &Config) -> u64 {
    config
        .auth
        .max_ttl_secs
        .map_or(DEMO_TOKEN_TTL_SECS, |max| max.min(DEMO_TOKEN_TTL_SECS))
}

/// Dev mode's one-time welcome: a working token, a curl line, where Swagger UI is.
fn print_dev_mode_banner(addr: SocketAddr, token: &str, ttl_secs: u64) {
    let validity = match ttl_secs {
        secs if secs % 3600 == 0 => format!("{} h", secs / 3600),
        secs if secs % 60 == 0 => format!("{} min", secs / 60),
        secs => format!("{secs} s"),
    };
    tracing::warn!(
        "DEV MODE: no BETTER_AUTH_SECRET is set, so this run signs tokens with a random \
         secret of its own; they stop working when the server stops"
    );
    println!(
        "\n  Token for the demo user \"{DEMO_USER}\" (valid {validity}):\n\n    {token}\n\n  \
         Try it:\n\n    curl -H \"Authorization: Bearer {token}\" http://{addr}/api/{DEMO_USER}/tasks\n\n  \
         Swagger UI: http://{addr}/docs  (Authorize → paste the token; use user_id {DEMO_USER})\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::auth::AuthError;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap()
    }

    #[tokio::test]
    async fn jwt_max_ttl_secs_reaches_the_verifier() {
        let config = config(&[("BETTER_AUTH_SECRET", SECRET), ("JWT_MAX_TTL_SECS", "3600")]);
        let verifier = token_verifier(&config);
        let now = chrono::Utc::now().timestamp();
        let sign = |ttl: i64| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &json!({"sub": "a", "exp": now + ttl}),
                &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .unwrap()
        };
        assert!(verifier.verify(&sign(3600)).await.is_ok());
        assert_eq!(
            verifier.verify(&sign(2 * 3600)).await,
            Err(AuthError::LifetimeTooLong(3600))
        );
    }

    #[test]
    fn the_demo_token_lasts_a_day_unless_jwt_max_ttl_secs_is_shorter() {
        assert_eq!(demo_token_ttl_secs(&config(&[])), 24 * 3600);
        assert_eq!(
            demo_token_ttl_secs(&config(&[("JWT_MAX_TTL_SECS", "3600")])),
            3600
        );
        assert_eq!(
            demo_token_ttl_secs(&config(&[("JWT_MAX_TTL_SECS", "604800")])),
            24 * 3600
        );
    }
}
