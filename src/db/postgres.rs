//! Connecting to PostgreSQL the way libpq users (and Neon's URLs) expect:
//! `sslmode`, `sslrootcert` and `channel_binding` in the URL, TLS through
//! rustls. tokio-postgres rejects `verify-ca`, `verify-full` and `sslrootcert`,
//! so they are taken out of the URL here and turned into a TLS policy.

use std::{path::PathBuf, sync::Arc, time::Duration};

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use percent_encoding::percent_decode_str;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::sync::mpsc;
use tokio_postgres::{
    AsyncMessage,
    config::{Host, SslMode},
    error::SqlState,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::OpenError;

/// The `application_name` of the shared read connections (unless the URL names one).
pub const SHARED_READS_NAME: &str = "todo-api shared reads";

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only (libpq's `require`, `prefer`): any certificate.
    Nothing,
    /// The chain must lead to a trusted root; the name is not checked.
    Chain,
    /// Chain and host name (libpq's `verify-full`).
    Full,
}

/// A parsed URL: where to connect and how to protect the connection.
pub struct ConnectOptions {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// For logs: never includes the password.
    pub summary: String,
    /// `host:port[,host:port…]`, for messages.
    pub hosts: String,
    /// The database name, for messages.
    pub dbname: String,
}

impl ConnectOptions {
    /// Parses a `postgres://` URL. Errors name the problem, never the URL.
    pub fn parse(url: &str, connect_timeout: Duration) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut sslmode = None;
        let mut sslrootcert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
            match key {
                "sslmode" => sslmode = Some(value),
                "sslrootcert" => sslrootcert = Some(value),
                _ => kept.push(pair),
            }
        }
        let stripped = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        // The causes name options, never their values.
        let mut config: tokio_postgres::Config = stripped
            .parse()
            .map_err(|err| format!("not a valid PostgreSQL URL: {}", describe(&err)))?;
        let local = config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => is_local(name),
            Host::Unix(_) => true,
        });
        let (mode, verify) = match sslmode.as_deref() {
            Some("disable") => (SslMode::Disable, Verify::Nothing),
            Some("allow" | "prefer") => (SslMode::Prefer, Verify::Nothing),
            // libpq checks the chain under `require` when a root certificate is given.
            Some("require") if sslrootcert.is_some() => (SslMode::Require, Verify::Chain),
            Some("require") => (SslMode::Require, Verify::Nothing),
            Some("verify-ca") => (SslMode::Require, Verify::Chain),
            Some("verify-full") => (SslMode::Require, Verify::Full),
            Some(other) => {
                return Err(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
            // Safe by default: a remote server must prove who it is.
            None if local => (SslMode::Prefer, Verify::Nothing),
            None => (SslMode::Require, Verify::Full),
        };
        config.ssl_mode(mode);
        config.connect_timeout(connect_timeout);
        let roots = root_store(sslrootcert.as_deref())?;
        let hosts = config
            .get_hosts()
            .iter()
            .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
            .map(|(host, port)| match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let dbname = config.get_dbname().unwrap_or("(default)").to_owned();
        let summary = format!(
            "{hosts} (database {dbname}, sslmode {}, certificate {})",
            sslmode.as_deref().unwrap_or(if local {
                "prefer (local default)"
            } else {
                "verify-full (remote default)"
            }),
            match verify {
                Verify::Nothing => "not verified",
                Verify::Chain => "chain verified",
                Verify::Full => "verified",
            },
        );
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(client_config(verify, roots)?),
            summary,
            hosts,
            dbname,
        })
    }

    /// Opens one connection; the error says why, without the password.
    pub async fn connect(&self) -> Result<AsyncPgConnection, ConnectionError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|err| ConnectionError::BadConnection(describe(&err)))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }

    /// Opens one plain tokio-postgres connection, its I/O driven by a task of
    /// its own until it ends (for the shared read connections, `db::shared`).
    /// Dropping the client closes it.
    pub async fn client(&self) -> Result<tokio_postgres::Client, String> {
        let mut config = self.config.clone();
        // Told apart from the pool's in pg_stat_activity.
        if config.get_application_name().is_none() {
            config.application_name(SHARED_READS_NAME);
        }
        let (client, connection) = config
            .connect(self.tls.clone())
            .await
            .map_err(|err| describe(&err))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(cause = %describe(&err), "shared read connection ended");
            }
        });
        Ok(client)
    }

    /// Opens one connection that listens on `channel`: the payloads of its
    /// notifications, until the connection ends (the channel closes then).
    /// The client must be kept: dropping it closes the connection.
    pub async fn listen(
        &self,
        channel: &str,
    ) -> Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<String>), String> {
        let (client, mut connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|err| describe(&err))?;
        let (payloads, received) = mpsc::unbounded_channel();
        // The connection does its I/O only while polled: this task drives it
        // and hands the notifications on; it ends with the connection.
        tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        if payloads.send(note.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(cause = %describe(&err), "events: the listening connection failed");
                        break;
                    }
                }
            }
        });
        // A channel name is an identifier: ours is a constant, quoted anyway.
        client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await
            .map_err(|err| describe(&err))?;
        Ok((client, received))
    }

    /// Opens one connection for start-up, sorting a failure into what waiting
    /// may heal (the server is down, starting, full, waking up) and what it
    /// will not, which then says what to change, without the password.
    pub async fn connect_at_start_up(&self) -> Result<AsyncPgConnection, OpenError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|err| self.explain(&err))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection)
            .await
            .map_err(|err| OpenError::Unavailable(err.to_string()))
    }

    fn explain(&self, err: &tokio_postgres::Error) -> OpenError {
        let (hosts, dbname) = (&self.hosts, &self.dbname);
        if let Some(db) = err.as_db_error() {
            let message = db.message();
            let code = db.code();
            let refused = |hint: &str| {
                OpenError::Refused(format!("{message} on {hosts} (database {dbname}) — {hint}"))
            };
            return if *code == SqlState::INVALID_CATALOG_NAME {
                OpenError::Refused(format!(
                    "{message} on {hosts} — create it or fix the database name in the URL"
                ))
            } else if *code == SqlState::INVALID_PASSWORD {
                refused("fix the user name or the password in the URL")
            } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
                refused("fix the user name in the URL, or what the server's pg_hba.conf accepts")
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                refused("grant the role CONNECT on the database, or use another role")
            } else {
                // Starting up (57P03), too many connections (53300), shutting
                // down, Neon's proxy waking a compute…
                OpenError::Unavailable(describe(err))
            };
        }
        if is_permanent(err) {
            let hint = if err.to_string() == TLS_FAILED {
                "check sslmode and sslrootcert in the URL, and the server's certificate"
            } else {
                "fix the URL"
            };
            return OpenError::Refused(format!(
                "{} (connecting to {hosts}, database {dbname}) — {hint}",
                describe(err)
            ));
        }
        OpenError::Unavailable(describe(err))
    }
}

/// tokio-postgres's words for a failed TLS handshake (its error kinds are
/// private; their Display, without the cause, is all there is to go by).
const TLS_FAILED: &str = "error performing TLS handshake";

/// Whether a failure that is not the server's answer comes from the URL or
/// the TLS settings rather than from the network: a missing password, an
/// authentication method the client refuses, a certificate that does not
/// verify, a server without TLS when TLS is required. Connection refused,
/// timeouts, DNS failures and a connection reset during the handshake are
/// worth waiting for.
fn is_permanent(err: &tokio_postgres::Error) -> bool {
    match err.to_string().as_str() {
        "invalid configuration" | "authentication error" | "invalid connection string" => true,
        TLS_FAILED => match std::error::Error::source(err) {
            Some(cause) => match cause.downcast_ref::<std::io::Error>() {
                // tokio-rustls reports rustls's verdicts as I/O errors, and
                // tokio-postgres-rustls a host that is no TLS server name
                // as invalid input.
                Some(io) => {
                    io.kind() == std::io::ErrorKind::InvalidInput
                        || io
                            .get_ref()
                            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
                }
                // "server does not support TLS", "no hostname provided…"
                None => true,
            },
            None => false,
        },
        _ => false,
    }
}

/// tokio-postgres displays server errors as just "db error": show the message.
pub(super) fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `sslrootcert=<file>`: its certificates; `system` or none: the webpki roots
/// (Mozilla's list, which Neon's certificates chain to).
fn root_store(sslrootcert: Option<&str>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match sslrootcert {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let path = PathBuf::from(path);
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|err| format!("sslrootcert {}: {err}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no usable certificate",
                    path.display()
                ));
            }
        }
    }
    Ok(roots)
}

fn client_config(verify: Verify, roots: RootCertStore) -> Result<ClientConfig, String> {
    // Explicit provider: two in the dependency graph would make the implicit one panic.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?;
    let config = match verify {
        Verify::Full => builder.with_root_certificates(roots).with_no_client_auth(),
        Verify::Chain | Verify::Nothing => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|err| err.to_string())?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    verify,
                    webpki,
                    provider,
                }))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// Checks less than the full certificate, as `sslmode` asks; handshake
/// signatures are still verified, so the session keys are the server's.
#[derive(Debug)]
struct Lenient {
    verify: Verify,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.verify == Verify::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(url: &str) -> String {
        ConnectOptions::parse(url, Duration::from_secs(1))
            .unwrap()
            .summary
    }

    #[test]
    fn neon_style_urls_parse_and_never_show_the_password() {
        let text = summary(
            "postgresql://alex:hunter2@ep-cool-1.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
        );
        assert!(
            text.contains("ep-cool-1.us-east-2.aws.neon.tech:5432"),
            "{text}"
        );
        assert!(
            text.contains("database neondb") && text.contains("sslmode require"),
            "{text}"
        );
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn a_remote_host_is_verified_by_default_and_a_local_one_is_not() {
        assert!(
            summary("postgres://u@db.example.com/x")
                .contains("verify-full (remote default), certificate verified")
        );
        assert!(summary("postgres://u@127.0.0.1:5432/x").contains("prefer (local default)"));
        assert!(
            summary("postgres://u@localhost/x?sslmode=verify-full")
                .contains("certificate verified")
        );
    }

    #[test]
    fn unknown_sslmodes_and_missing_root_files_are_named() {
        let err = ConnectOptions::parse("postgres://h/x?sslmode=always", Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(err.contains("sslmode=always"), "{err}");
        let err = ConnectOptions::parse(
            "postgres://h/x?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(err.contains("sslrootcert /nonexistent.pem"), "{err}");
    }
}
