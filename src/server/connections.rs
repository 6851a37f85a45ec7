//! The HTTP/1.1 server around the poem app, with the limits that keep one
//! client from starving the others: a cap on open connections, a deadline for
//! each request's headers (which also closes idle keep-alive connections),
//! a deadline for every stalled write (a client that stops reading), and
//! back-off when `accept` fails (out of file descriptors). poem's own server
//! sets none of these; hyper has them, so this loop is hyper's, serving the
//! same poem endpoint.
//!
//! HTTP/2 and TLS are left to the proxy in front (Neon-style deployments
//! terminate TLS there): HTTP/1.1 alone is the smaller surface.

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use poem::{
    Addr, Endpoint, Response,
    error::ResponseError,
    http::{self, uri::Scheme},
    web::{LocalAddr, RemoteAddr},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_io_timeout::TimeoutStream;

use crate::api::problem::ApiError;

/// What the server allows each client, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at most; past it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Longest wait for a request's complete headers, counted from the
    /// connection's start or the end of the previous response: slow or
    /// half-sent headers, and idle keep-alive connections, are closed.
    pub header_timeout: Duration,
    /// Longest a response write may stall (the client reads nothing).
    pub write_timeout: Duration,
}

/// How often the counters of closed connections are logged (when non-zero).
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Connections closed by a limit since the last report.
#[derive(Default)]
struct Closed {
    header_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
}

impl Closed {
    fn count(&self, err: &hyper::Error) {
        use std::error::Error as _;
        if err.is_timeout() {
            self.header_timeouts.fetch_add(1, Ordering::Relaxed);
        } else if err
            .source()
            .and_then(|e| e.downcast_ref::<io::Error>())
            .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
        {
            self.write_timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One line per period, whatever the number of connections closed: an
    /// attack must not also flood the log.
    async fn report(self: Arc<Self>, limits: ConnectionLimits) {
        let mut ticks = tokio::time::interval(REPORT_EVERY);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let headers = self.header_timeouts.swap(0, Ordering::Relaxed);
            let writes = self.write_timeouts.swap(0, Ordering::Relaxed);
            if headers > 0 {
                tracing::info!(
                    closed = headers,
                    "closed connections that sent no complete request within {:?} \
                     (idle keep-alive or slow headers; HTTP_HEADER_TIMEOUT_SECS)",
                    limits.header_timeout
                );
            }
            if writes > 0 {
                tracing::info!(
                    closed = writes,
                    "closed connections that read no response for {:?} (HTTP_WRITE_TIMEOUT_SECS)",
                    limits.write_timeout
                );
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests
/// in flight finish for up to `grace` (idle connections close at once).
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let app = Arc::new(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let closed = Arc::new(Closed::default());
    let reporter = tokio::spawn(Arc::clone(&closed).report(limits));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);

    let mut shutdown = pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    // Logged once when the cap is reached, not for every connection that
    // then waits: an attack must not also flood the log.
    let mut at_cap = false;
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                if std::mem::take(&mut at_cap) {
                    tracing::info!("below MAX_CONNECTIONS again");
                }
                permit
            }
            Err(_) => {
                if !std::mem::replace(&mut at_cap, true) {
                    tracing::warn!(
                        "{} connections are open (MAX_CONNECTIONS): new ones wait until one closes",
                        limits.max_connections
                    );
                }
                tokio::select! {
                    _ = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => {
                        permit.expect("the semaphore is never closed")
                    }
                }
            }
        };
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff.reset();
                    accepted
                }
                Err(err) => {
                    backoff.wait(err).await;
                    continue;
                }
            },
        };
        tracing::trace!(%remote, "connection accepted");
        let _ = stream.set_nodelay(true);
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.write_timeout));
        let service = {
            let (app, local) = (Arc::clone(&app), local.clone());
            let remote = RemoteAddr(Addr::SocketAddr(remote));
            service_fn(move |req: http::Request<Incoming>| {
                let (app, local, remote) = (Arc::clone(&app), local.clone(), remote.clone());
                async move {
                    let response = if has_one_host(&req) {
                        let req = poem::Request::from((req, local, remote, Scheme::HTTP));
                        app.get_response(req).await
                    } else {
                        ApiError::BadHost.as_response()
                    };
                    Ok::<http::Response<_>, Infallible>(response.into())
                }
            })
        };
        let connection = graceful.watch(http.serve_connection(TokioIo::new(Box::pin(io)), service));
        let closed = Arc::clone(&closed);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                closed.count(&err);
                tracing::debug!(%remote, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    reporter.abort();
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {grace:?}: closing their connections");
    }
    Ok(())
}

/// RFC 9112 §3.2: an HTTP/1.1 request names its host exactly once (hyper
/// does not check). HTTP/1.0 may omit it.
fn has_one_host<B>(req: &http::Request<B>) -> bool {
    req.version() != http::Version::HTTP_11
        || req.headers().get_all(http::header::HOST).iter().count() == 1
}

/// `accept` fails when the process (EMFILE) or the system (ENFILE) is out of
/// file descriptors, or out of memory: retrying at once would spin a core.
/// Waits grow from 10 ms to 1 s, and the first failure of a run is logged.
#[derive(Default)]
struct AcceptBackoff {
    delay: Option<Duration>,
}

impl AcceptBackoff {
    fn reset(&mut self) {
        if self.delay.take().is_some() {
            tracing::info!("accepting connections again");
        }
    }

    async fn wait(&mut self, err: io::Error) {
        if let Some(delay) = self.next_delay(&err) {
            tokio::time::sleep(delay).await;
        }
    }

    /// How long to wait after `err`; `None`: retry at once.
    fn next_delay(&mut self, err: &io::Error) -> Option<Duration> {
        // A connection that was reset before it was accepted is no trouble
        // of ours.
        if matches!(
            err.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
        ) {
            return None;
        }
        let delay = match self.delay {
            None => {
                tracing::warn!(
                    error = %err,
                    "cannot accept connections (out of file descriptors? see MAX_CONNECTIONS); backing off"
                );
                Duration::from_millis(10)
            }
            Some(delay) => (delay * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Out of file descriptors, `accept` fails at once every time: without
    /// a growing wait the loop spun half a core and filled nothing.
    #[test]
    fn accept_failures_back_off_from_10_ms_to_1_s_and_start_over_after_a_success() {
        let emfile = || io::Error::from_raw_os_error(24);
        let mut backoff = AcceptBackoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|_| backoff.next_delay(&emfile()).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(
            backoff.next_delay(&emfile()),
            Some(Duration::from_millis(10))
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            backoff.next_delay(&reset),
            None,
            "a peer's reset is retried at once"
        );
    }
}
