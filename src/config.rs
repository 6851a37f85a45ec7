//! Configuration, read once from the environment at start-up and passed by value.

use std::{fmt, net::IpAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use crate::{
    api::rate_limit::RateLimitSettings, auth::JwksSettings, db::PoolSettings, live::LiveSettings,
    server::ConnectionLimits,
};

/// A value that must never reach a log line or a response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 32 random bytes, hex-encoded: dev mode's per-run signing secret.
    pub fn random() -> Self {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One clear line naming the variable that stopped start-up.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// Well-formed, but what it points to refuses it for good (no such
    /// database, a wrong password, a file that cannot be written): waiting
    /// will not help, the value or the thing must change.
    #[error("{var}: {reason}")]
    Unusable { var: &'static str, reason: String },
}

/// Shortest accepted `BETTER_AUTH_SECRET`: Better Auth itself asks for 32.
pub const MIN_SECRET_LEN: usize = 32;

/// Tasks one user may keep unless `MAX_TASKS_PER_USER` says otherwise: far
/// more than a person's todo list, few enough that a listing of all of them
/// stays a couple of megabytes.
pub const DEFAULT_MAX_TASKS_PER_USER: u32 = 10_000;

/// Where tasks are stored when no database URL is set.
pub const DEFAULT_SQLITE_PATH: &str = "./data/todo.db";

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    Text,
    /// One JSON object per line, the request's span fields at the top level.
    Json,
}

impl LogFormat {
    /// Read before the rest of the configuration: logging starts first.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match lookup("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("") | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(_) => Err(ConfigError::Invalid {
                var: "LOG_FORMAT",
                reason: "must be `text` or `json`".to_owned(),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub host: IpAddr,
    pub port: u16,
    pub cors_origins: Vec<String>,
    /// The `Host` values `/mcp` answers (`MCP_ALLOWED_HOSTS`); `*` is any.
    pub mcp_allowed_hosts: Vec<String>,
    /// Whether `/metrics` is served (`METRICS_ENABLED`).
    pub metrics_enabled: bool,
    pub rate_limits: RateLimitSettings,
    pub pool: PoolSettings,
    /// How long start-up keeps retrying the first connection (a suspended
    /// Neon compute takes seconds to wake).
    pub startup_timeout: Duration,
    /// Longest a request may run before it is answered 503.
    pub request_timeout: Duration,
    /// How many tasks one user may keep (`MAX_TASKS_PER_USER`; 0: no limit).
    pub max_tasks_per_user: Option<u32>,
    /// How long outcomes of writes with an `Idempotency-Key` are kept
    /// (`IDEMPOTENCY_RETENTION_HOURS`).
    pub idempotency_retention: Duration,
    /// How long a task stays in the trash (`TRASH_RETENTION_DAYS`).
    pub trash_retention: Duration,
    /// How often the maintenance job runs (`MAINTENANCE_INTERVAL_SECS`).
    pub maintenance_interval: Duration,
    /// The longest the reminder poller sleeps (`REMINDER_POLL_MAX_SECS`).
    pub reminder_poll_max: Duration,
    /// `MAX_CONNECTIONS`, `HTTP_HEADER_TIMEOUT_SECS`, `HTTP_WRITE_TIMEOUT_SECS`.
    pub connections: ConnectionLimits,
    /// `EVENTS_KEEPALIVE_SECS`, `EVENTS_MAX_STREAMS_PER_USER`, `EVENTS_POLL_MS`.
    pub live: LiveSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// `NEON_DB_URL` or `DATABASE_URL` (the variable's name is kept for
    /// messages), and `NEON_DIRECT_URL` for migrations when the main URL is a
    /// pooler (PgBouncer in transaction mode).
    Postgres {
        url: Secret,
        variable: &'static str,
        direct_url: Option<Secret>,
    },
    /// `SQLITE_PATH`, a `sqlite://` URL, or the default file; `variable`
    /// names where it came from (`SQLITE_PATH` for the default: the variable
    /// that changes it), for messages.
    Sqlite {
        path: PathBuf,
        variable: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HS256 tokens signed with its UTF-8 bytes: `BETTER_AUTH_SECRET`, or in
    /// dev mode a random secret made for this run.
    pub shared_secret: Option<Secret>,
    /// Better Auth's `jwt()` plugin tokens, checked against its JWKS.
    pub jwks: Option<JwksSettings>,
    /// No token settings and no PostgreSQL: the server signs its own demo token.
    pub dev_mode: bool,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// `JWT_MAX_TTL_SECS`: the longest a token may still be valid for. A token
    /// whose `exp` is further ahead than this (plus the leeway) is refused, so
    /// a stolen token cannot be one minted to last for weeks.
    ///
    /// Unset by default (no maximum, as before it existed): frontends that
    /// mint long-lived HS256 tokens keep working until their operators opt in.
    /// Better Auth's `jwt()` tokens last 15 minutes and the hackathon pattern
    /// signs for 1 hour, so 3600 admits both. Measured from now rather than
    /// from `iat`, which HS256 tokens need not carry.
    pub max_ttl_secs: Option<u64>,
}

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need no global state.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let database = database(&var)?;
        let jwks = jwks_settings(&var)?;
        let (shared_secret, dev_mode) = shared_secret(&var, &database, jwks.is_some())?;

        let cors_origins = match var("CORS_ORIGINS") {
            Some(list) => parse_origins(&list)?,
            None => vec!["http://localhost:3000".to_owned()],
        };

        let mcp_allowed_hosts = match var("MCP_ALLOWED_HOSTS") {
            Some(list) => list
                .split(',')
                .map(|host| host.trim().to_owned())
                .filter(|host| !host.is_empty())
                .collect(),
            // The SDK's own default: loopback only, against DNS rebinding.
            None => ["localhost", "127.0.0.1", "::1"]
                .map(str::to_owned)
                .to_vec(),
        };

        Ok(Self {
            database,
            auth: AuthConfig {
                shared_secret,
                jwks,
                dev_mode,
                leeway_secs: parse_or(&var, "JWT_LEEWAY_SECS", 5)?,
                // Unset is no maximum; 0 would refuse every token, so it is
                // taken for a mistake rather than for "no maximum".
                max_ttl_secs: positive_opt(&var, "JWT_MAX_TTL_SECS")?,
            },
            host: parse_or(&var, "HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: parse_or(&var, "PORT", 8000)?,
            cors_origins,
            mcp_allowed_hosts,
            metrics_enabled: parse_or(&var, "METRICS_ENABLED", true)?,
            rate_limits: RateLimitSettings {
                // 0 turns a limit off.
                per_user: NonZeroU32::new(parse_or(&var, "RATE_LIMIT_PER_MINUTE", 600)?)
                    .map(|per_minute| -> Result<_, ConfigError> {
                        let burst = parse_or(&var, "RATE_LIMIT_BURST", 100)?;
                        let burst = NonZeroU32::new(burst).ok_or(ConfigError::Invalid {
                            var: "RATE_LIMIT_BURST",
                            reason: "must be at least 1".to_owned(),
                        })?;
                        Ok((per_minute, burst))
                    })
                    .transpose()?,
                failures_per_address: NonZeroU32::new(parse_or(
                    &var,
                    "RATE_LIMIT_FAILURES_PER_MINUTE",
                    60,
                )?),
            },
            pool: PoolSettings {
                max_size: parse_or(&var, "DB_POOL_SIZE", 16)?,
                read_connections: parse_or(&var, "DB_READ_CONNECTIONS", 2)?,
                timeout: Duration::from_secs(parse_or(&var, "DB_TIMEOUT_SECS", 5)?),
            },
            startup_timeout: Duration::from_secs(parse_or(&var, "DB_STARTUP_TIMEOUT_SECS", 60)?),
            request_timeout: Duration::from_secs(parse_or(&var, "REQUEST_TIMEOUT_SECS", 30)?),
            max_tasks_per_user: Some(parse_or(
                &var,
                "MAX_TASKS_PER_USER",
                DEFAULT_MAX_TASKS_PER_USER,
            )?)
            .filter(|max| *max > 0),
            idempotency_retention: Duration::from_secs(
                positive::<u64>(&var, "IDEMPOTENCY_RETENTION_HOURS", 24)?.saturating_mul(3600),
            ),
            // 0 is allowed: trashed tasks go at the next maintenance run.
            trash_retention: Duration::from_secs(
                parse_or::<u64>(&var, "TRASH_RETENTION_DAYS", 30)?.saturating_mul(86_400),
            ),
            maintenance_interval: Duration::from_secs(positive(
                &var,
                "MAINTENANCE_INTERVAL_SECS",
                3600,
            )?),
            reminder_poll_max: Duration::from_secs(positive(&var, "REMINDER_POLL_MAX_SECS", 60)?),
            connections: ConnectionLimits {
                max_connections: positive(&var, "MAX_CONNECTIONS", 4096)?,
                header_timeout: Duration::from_secs(positive(
                    &var,
                    "HTTP_HEADER_TIMEOUT_SECS",
                    10,
                )?),
                write_timeout: Duration::from_secs(positive(&var, "HTTP_WRITE_TIMEOUT_SECS", 30)?),
            },
            live: {
                let default = LiveSettings::default();
                LiveSettings {
                    keep_alive: Duration::from_secs(positive(
                        &var,
                        "EVENTS_KEEPALIVE_SECS",
                        default.keep_alive.as_secs(),
                    )?),
                    max_streams_per_user: positive(
                        &var,
                        "EVENTS_MAX_STREAMS_PER_USER",
                        default.max_streams_per_user,
                    )?,
                    poll_every: Duration::from_millis(positive(
                        &var,
                        "EVENTS_POLL_MS",
                        u64::try_from(default.poll_every.as_millis()).unwrap_or(1000),
                    )?),
                }
            },
        })
    }
}

fn database(var: &impl Fn(&str) -> Option<String>) -> Result<DatabaseConfig, ConfigError> {
    let (variable, url) = match (var("NEON_DB_URL"), var("DATABASE_URL")) {
        (Some(url), _) => ("NEON_DB_URL", url),
        (None, Some(url)) => ("DATABASE_URL", url),
        (None, None) => {
            let path = var("SQLITE_PATH").unwrap_or_else(|| DEFAULT_SQLITE_PATH.to_owned());
            return Ok(DatabaseConfig::Sqlite {
                path: path.into(),
                variable: "SQLITE_PATH",
            });
        }
    };
    let is_postgres =
        |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
    if is_postgres(&url) {
        let direct_url = match var("NEON_DIRECT_URL") {
            Some(direct) if is_postgres(&direct) => Some(Secret(direct)),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "NEON_DIRECT_URL",
                    reason: "must start with postgres:// or postgresql://".to_owned(),
                });
            }
            None => None,
        };
        return Ok(DatabaseConfig::Postgres {
            url: Secret(url),
            variable,
            direct_url,
        });
    }
    match url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Some(path) if !path.is_empty() => Ok(DatabaseConfig::Sqlite {
            path: path.into(),
            variable,
        }),
        // The value is not echoed: it may hold a password.
        _ => Err(ConfigError::Invalid {
            var: variable,
            reason: "must start with postgres://, postgresql:// or sqlite://".to_owned(),
        }),
    }
}

/// `BETTER_AUTH_URL` and its overrides: where the keys are, what `iss` and
/// `aud` must say.
fn jwks_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<JwksSettings>, ConfigError> {
    let Some(base) = var("BETTER_AUTH_URL") else {
        return Ok(None);
    };
    let origin = http_origin("BETTER_AUTH_URL", &base)?;
    let url = match var("BETTER_AUTH_JWKS_URL") {
        Some(url) => {
            http_origin("BETTER_AUTH_JWKS_URL", &url)?;
            url
        }
        None => format!("{}/api/auth/jwks", base.trim_end_matches('/')),
    };
    Ok(Some(JwksSettings {
        url,
        issuer: var("JWT_ISSUER").unwrap_or_else(|| origin.clone()),
        audience: var("JWT_AUDIENCE").unwrap_or(origin),
        min_refetch: Duration::from_secs(parse_or(var, "BETTER_AUTH_JWKS_REFETCH_SECS", 5)?),
        fetch_timeout: Duration::from_secs(5),
    }))
}

/// The origin (`scheme://host[:port]`) of an http(s) URL.
fn http_origin(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        var: name,
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(raw).map_err(|err| invalid(&format!("not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an http:// or https:// URL"));
    }
    Ok(url.origin().ascii_serialization())
}

/// The HS256 secret, and whether this run is in dev mode.
fn shared_secret(
    var: &impl Fn(&str) -> Option<String>,
    database: &DatabaseConfig,
    has_jwks: bool,
) -> Result<(Option<Secret>, bool), ConfigError> {
    match (var("BETTER_AUTH_SECRET"), database) {
        (Some(secret), _) if secret.len() < MIN_SECRET_LEN => Err(ConfigError::Invalid {
            var: "BETTER_AUTH_SECRET",
            reason: format!("must be at least {MIN_SECRET_LEN} bytes long"),
        }),
        (Some(secret), _) => Ok((Some(Secret(secret)), false)),
        (None, _) if has_jwks => Ok((None, false)),
        (None, DatabaseConfig::Sqlite { .. }) => Ok((Some(Secret::random()), true)),
        (None, DatabaseConfig::Postgres { .. }) => Err(ConfigError::Missing(
            "BETTER_AUTH_SECRET",
            "a server on PostgreSQL needs token settings: BETTER_AUTH_URL (Better Auth's \
             JWKS) and/or BETTER_AUTH_SECRET (dev mode, with its own demo token, runs only \
             on the embedded SQLite database)",
        )),
    }
}

fn parse_or<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    Ok(parse_opt(var, name)?.unwrap_or(default))
}

/// A setting with no default: `None` when unset.
fn parse_opt<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    match var(name) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|err| ConfigError::Invalid {
                var: name,
                reason: format!("{raw:?}: {err}"),
            }),
    }
}

/// A whole number above zero (a zero limit or timeout would refuse everything).
fn positive<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + Default + PartialEq,
    T::Err: fmt::Display,
{
    Ok(positive_opt(var, name)?.unwrap_or(default))
}

/// The same with no default: `None` when unset.
fn positive_opt<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr + Default + PartialEq,
    T::Err: fmt::Display,
{
    match parse_opt(var, name)? {
        Some(value) if value == T::default() => Err(ConfigError::Invalid {
            var: name,
            reason: "must be at least 1 (or unset, for the default)".to_owned(),
        }),
        value => Ok(value),
    }
}

/// `CORS_ORIGINS`: comma-separated `scheme://host[:port]` origins.
fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains('/') => Ok(origin.to_owned()),
                _ => Err(ConfigError::Invalid {
                    var: "CORS_ORIGINS",
                    reason: format!("{origin:?} is not an origin like https://app.example.com"),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn neon_db_url_wins_over_database_url() {
        let config = config(&[
            ("NEON_DB_URL", "postgres://neon/db"),
            ("DATABASE_URL", "postgres://other/db"),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .unwrap();
        let DatabaseConfig::Postgres { url, variable, .. } = config.database else {
            panic!("PostgreSQL expected");
        };
        assert_eq!(
            (url.expose(), variable),
            ("postgres://neon/db", "NEON_DB_URL")
        );
        assert!(!config.auth.dev_mode);
        assert_eq!(config.port, 8000);
        assert_eq!(config.cors_origins, ["http://localhost:3000"]);
    }

    #[test]
    fn nothing_configured_is_sqlite_in_dev_mode_with_a_fresh_secret() {
        let first = config(&[]).unwrap();
        assert_eq!(
            first.database,
            DatabaseConfig::Sqlite {
                path: DEFAULT_SQLITE_PATH.into(),
                variable: "SQLITE_PATH",
            }
        );
        assert!(first.auth.dev_mode);
        let secret = first
            .auth
            .shared_secret
            .clone()
            .expect("dev mode has a secret");
        assert_eq!(secret.expose().len(), 64);
        assert_ne!(Some(secret), config(&[]).unwrap().auth.shared_secret);
    }

    #[test]
    fn sqlite_can_be_moved_by_path_or_url() {
        let by_path = config(&[("SQLITE_PATH", "/var/lib/todo/tasks.db")]).unwrap();
        assert_eq!(
            by_path.database,
            DatabaseConfig::Sqlite {
                path: "/var/lib/todo/tasks.db".into(),
                variable: "SQLITE_PATH",
            }
        );
        let by_url = config(&[
            ("DATABASE_URL", "sqlite://./x/y.db"),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(
            by_url.database,
            DatabaseConfig::Sqlite {
                path: "./x/y.db".into(),
                variable: "DATABASE_URL",
            }
        );
        assert!(
            !by_url.auth.dev_mode,
            "a configured secret is used, not dev mode"
        );
    }

    #[test]
    fn better_auth_url_gives_the_jwks_url_issuer_and_audience() {
        let config = config(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("BETTER_AUTH_URL", "https://app.example.com/"),
        ])
        .unwrap();
        let jwks = config.auth.jwks.unwrap();
        assert_eq!(jwks.url, "https://app.example.com/api/auth/jwks");
        assert_eq!(
            (jwks.issuer.as_str(), jwks.audience.as_str()),
            ("https://app.example.com", "https://app.example.com")
        );
        assert!(config.auth.shared_secret.is_none());
        assert!(!config.auth.dev_mode, "JWKS settings are token settings");

        let overridden = config_with_jwks(&[
            ("BETTER_AUTH_JWKS_URL", "http://auth.internal:3000/keys"),
            ("JWT_ISSUER", "https://issuer.example"),
            ("JWT_AUDIENCE", "todo-api"),
        ]);
        assert_eq!(overridden.url, "http://auth.internal:3000/keys");
        assert_eq!(
            (overridden.issuer.as_str(), overridden.audience.as_str()),
            ("https://issuer.example", "todo-api")
        );
    }

    fn config_with_jwks(extra: &[(&str, &str)]) -> JwksSettings {
        let mut vars = vec![("BETTER_AUTH_URL", "http://localhost:3000")];
        vars.extend_from_slice(extra);
        config(&vars).unwrap().auth.jwks.unwrap()
    }

    #[test]
    fn a_bad_better_auth_url_is_named() {
        for bad in ["localhost:3000", "ftp://x", "not a url"] {
            let err = config(&[("BETTER_AUTH_URL", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("BETTER_AUTH_URL is invalid"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn postgres_without_token_settings_never_runs_in_dev_mode() {
        let err = config(&[("DATABASE_URL", "postgres://h/db")]).unwrap_err();
        assert!(
            err.to_string().starts_with("BETTER_AUTH_SECRET is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_database_url_is_named_without_echoing_it() {
        let err = config(&[
            ("DATABASE_URL", "mysql://u:hunter2@h/db"),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("DATABASE_URL is invalid"), "{line}");
        assert!(!line.contains("hunter2"), "{line}");
    }

    #[test]
    fn a_short_secret_is_refused() {
        let err = config(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("BETTER_AUTH_SECRET", "short"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("BETTER_AUTH_SECRET is invalid"));
    }

    #[test]
    fn a_bad_port_is_named() {
        let err = config(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("BETTER_AUTH_SECRET", SECRET),
            ("PORT", "eighty"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("PORT is invalid"), "{err}");
    }

    #[test]
    fn the_maximum_token_lifetime_is_unset_by_default_and_a_bad_one_is_named() {
        assert_eq!(config(&[]).unwrap().auth.max_ttl_secs, None);
        let set = config(&[("JWT_MAX_TTL_SECS", "3600")]).unwrap();
        assert_eq!(set.auth.max_ttl_secs, Some(3600));
        for bad in ["one hour", "-1", "0", "1.5"] {
            let err = config(&[("JWT_MAX_TTL_SECS", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("JWT_MAX_TTL_SECS is invalid"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn cors_origins_are_split_and_checked() {
        let ok = config(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("BETTER_AUTH_SECRET", SECRET),
            (
                "CORS_ORIGINS",
                "https://app.example.com, http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(
            ok.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let err = config(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("BETTER_AUTH_SECRET", SECRET),
            ("CORS_ORIGINS", "app.example.com/path"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("CORS_ORIGINS is invalid"));
    }
}
