//! Start-up and shutdown of the HTTP server, shared by `main` and the tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{
    Server,
    listener::{Acceptor, Listener, TcpListener},
};

use crate::{
    api::AppState,
    app::build_app,
    auth::TokenVerifier,
    config::Config,
    db::{self, Database},
};

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Migrates the database, binds the listener and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let url = config.database_url.expose();
    let applied = db::run_migrations(url)
        .await
        .context("could not migrate the database")?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    let state = AppState {
        db: Database::new(url, config.pool)?,
        verifier: Arc::new(TokenVerifier::with_shared_secret(
            config.auth.shared_secret.expose(),
            config.auth.leeway_secs,
        )),
    };
    let app = build_app(state, &config.cors_origins);

    let acceptor = TcpListener::bind(SocketAddr::new(config.host, config.port))
        .into_acceptor()
        .await
        .with_context(|| format!("could not listen on {}:{}", config.host, config.port))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
        .context("the listener has no address")?;
    tracing::info!("listening on http://{addr} (Swagger UI at http://{addr}/docs)");

    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(SHUTDOWN_GRACE))
        .await?;
    tracing::info!("stopped");
    Ok(())
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
