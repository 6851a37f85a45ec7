//! Configuration, read once from the environment at start-up and passed by value.

use std::{fmt, net::IpAddr, time::Duration};

use crate::db::PoolSettings;

/// A value that must never reach a log line or a response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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
}

/// Shortest accepted `BETTER_AUTH_SECRET`: Better Auth itself asks for 32.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub auth: AuthConfig,
    pub host: IpAddr,
    pub port: u16,
    pub cors_origins: Vec<String>,
    pub pool: PoolSettings,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `BETTER_AUTH_SECRET`: HS256 tokens signed with its UTF-8 bytes.
    pub shared_secret: Secret,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
}

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need no global state.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let database_url = database_url(&var)?;

        let shared_secret = var("BETTER_AUTH_SECRET").ok_or(ConfigError::Missing(
            "BETTER_AUTH_SECRET",
            "set it to the secret your frontend signs HS256 tokens with",
        ))?;
        if shared_secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                var: "BETTER_AUTH_SECRET",
                reason: format!("must be at least {MIN_SECRET_LEN} bytes long"),
            });
        }

        let cors_origins = match var("CORS_ORIGINS") {
            Some(list) => parse_origins(&list)?,
            None => vec!["http://localhost:3000".to_owned()],
        };

        Ok(Self {
            database_url: Secret(database_url),
            auth: AuthConfig {
                shared_secret: Secret(shared_secret),
                leeway_secs: parse_or(&var, "JWT_LEEWAY_SECS", 5)?,
            },
            host: parse_or(&var, "HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: parse_or(&var, "PORT", 8000)?,
            cors_origins,
            pool: PoolSettings {
                max_size: parse_or(&var, "DB_POOL_SIZE", 16)?,
                timeout: Duration::from_secs(parse_or(&var, "DB_TIMEOUT_SECS", 5)?),
            },
        })
    }
}

fn database_url(var: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let (name, url) = match (var("NEON_DB_URL"), var("DATABASE_URL")) {
        (Some(url), _) => ("NEON_DB_URL", url),
        (None, Some(url)) => ("DATABASE_URL", url),
        (None, None) => {
            return Err(ConfigError::Missing(
                "NEON_DB_URL",
                "set it (or DATABASE_URL) to a postgres:// URL",
            ));
        }
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        // The value is not echoed: it may hold a password.
        return Err(ConfigError::Invalid {
            var: name,
            reason: "must start with postgres:// or postgresql://".to_owned(),
        });
    }
    Ok(url)
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
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|err| ConfigError::Invalid {
            var: name,
            reason: format!("{raw:?}: {err}"),
        }),
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
        assert_eq!(config.database_url.expose(), "postgres://neon/db");
        assert_eq!(config.port, 8000);
        assert_eq!(config.cors_origins, ["http://localhost:3000"]);
    }

    #[test]
    fn a_missing_database_url_names_the_variable() {
        let err = config(&[("BETTER_AUTH_SECRET", SECRET)]).unwrap_err();
        assert!(
            err.to_string().starts_with("NEON_DB_URL is not set"),
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
