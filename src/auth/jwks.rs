//! Better Auth's public keys: fetched from its JWKS endpoint, cached by `kid`,
//! refetched when a token names a key not seen yet — at most once per
//! interval, one fetch at a time, so a flood of made-up kids cannot flood
//! Better Auth. When Better Auth is down the cached keys keep working.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm},
};
use tokio::sync::{Mutex, RwLock};

use super::{AuthError, decode_with};
use crate::domain::UserId;

/// Keys older than this are refetched on the next request that uses them
/// (revoked keys disappear); if Better Auth does not answer, they stay.
const MAX_KEY_AGE: Duration = Duration::from_secs(600);
/// A JWKS larger than this is refused: at its `Content-Length`, or as soon as
/// the body read so far passes it.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Where the keys are and what the tokens must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    pub url: String,
    pub issuer: String,
    pub audience: String,
    /// Least time between two fetches.
    pub min_refetch: Duration,
    /// Longest wait for Better Auth to answer.
    pub fetch_timeout: Duration,
}

/// One published key, with the validation pinned to its own algorithm.
struct Key {
    decoding: DecodingKey,
    validation: Validation,
}

struct Cache {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct FetchGate {
    last_attempt: Option<Instant>,
    last_ok: bool,
}

pub struct JwksVerifier {
    settings: JwksSettings,
    leeway_secs: u64,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    gate: Mutex<FetchGate>,
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings, leeway_secs: u64) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .build()
            .expect("an HTTP client with default TLS settings");
        Self {
            settings,
            leeway_secs,
            client,
            cache: RwLock::new(Cache {
                keys: HashMap::new(),
                fetched_at: None,
            }),
            gate: Mutex::new(FetchGate::default()),
        }
    }

    /// Fetches the keys now (at start-up); failure is logged, not fatal.
    pub async fn prefetch(&self) {
        if self.refresh().await.is_ok() {
            let count = self.cache.read().await.keys.len();
            tracing::info!(keys = count, url = %self.settings.url, "fetched Better Auth's JWKS");
        }
    }

    /// The token's subject when it is acceptable; `max_ttl_secs` as in
    /// [`TokenVerifier::and_max_ttl`](super::TokenVerifier::and_max_ttl).
    pub async fn verify(
        &self,
        token: &str,
        kid: Option<&str>,
        max_ttl_secs: Option<u64>,
    ) -> Result<UserId, AuthError> {
        // Better Auth always names the key; a token without a kid is not one of its.
        let kid = kid.ok_or(AuthError::UnknownKey)?;
        let stale = self
            .cache
            .read()
            .await
            .fetched_at
            .is_none_or(|at| at.elapsed() > MAX_KEY_AGE);
        if stale {
            // Errors are fine here: cached keys keep serving.
            let _ = self.refresh().await;
        }
        if let Some(result) = self.verify_cached(token, kid, max_ttl_secs).await {
            return result;
        }
        self.refresh().await?;
        self.verify_cached(token, kid, max_ttl_secs)
            .await
            .unwrap_or(Err(AuthError::UnknownKey))
    }

    async fn verify_cached(
        &self,
        token: &str,
        kid: &str,
        max_ttl_secs: Option<u64>,
    ) -> Option<Result<UserId, AuthError>> {
        let cache = self.cache.read().await;
        let key = cache.keys.get(kid)?;
        Some(decode_with(
            token,
            &key.decoding,
            &key.validation,
            max_ttl_secs,
        ))
    }

    /// Refetches unless a fetch was tried within the interval; one at a time.
    /// `Err(KeysUnavailable)` when the latest fetch failed.
    async fn refresh(&self) -> Result<(), AuthError> {
        let mut gate = self.gate.lock().await;
        let recent = gate
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.settings.min_refetch);
        if recent {
            return if gate.last_ok {
                Ok(())
            } else {
                Err(AuthError::KeysUnavailable)
            };
        }
        gate.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let mut cache = self.cache.write().await;
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                gate.last_ok = true;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(url = %self.settings.url, %reason, "cannot fetch Better Auth's JWKS");
                gate.last_ok = false;
                Err(AuthError::KeysUnavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, String> {
        let mut response = self
            .client
            .get(&self.settings.url)
            .send()
            .await
            .map_err(|err| err.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let too_large = || format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes");
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large());
        }
        // Read chunk by chunk and stop at the limit: buffering the whole body
        // first let a 1 GiB answer take 754 MB of memory before it was refused.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| err.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|err| format!("not a JWKS: {err}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            match self.key(jwk) {
                Ok((kid, key)) => {
                    keys.insert(kid, key);
                }
                Err(reason) => {
                    tracing::warn!(kid = ?jwk.common.key_id, %reason, "ignoring a JWKS key")
                }
            }
        }
        Ok(keys)
    }

    fn key(&self, jwk: &Jwk) -> Result<(String, Key), String> {
        let kid = jwk.common.key_id.clone().ok_or("it has no kid")?;
        let algorithm = algorithm_of(jwk)?;
        let decoding = DecodingKey::from_jwk(jwk).map_err(|err| err.to_string())?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Ok((
            kid,
            Key {
                decoding,
                validation,
            },
        ))
    }
}

/// The algorithm a key is for: its `alg`, else what its type implies. The
/// token's header never decides it.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::EdDSA), _) => Algorithm::EdDSA,
        (Some(KeyAlgorithm::ES256), _) => Algorithm::ES256,
        (Some(KeyAlgorithm::RS256), _) => Algorithm::RS256,
        (Some(KeyAlgorithm::PS256), _) => Algorithm::PS256,
        (Some(other), _) => return Err(format!("algorithm {other:?} is not accepted")),
        (None, AlgorithmParameters::OctetKeyPair(p)) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, _) => return Err("its key type is not accepted".to_owned()),
    };
    let fits = matches!(
        (algorithm, &jwk.algorithm),
        (Algorithm::EdDSA, AlgorithmParameters::OctetKeyPair(_))
            | (Algorithm::ES256, AlgorithmParameters::EllipticCurve(_))
            | (
                Algorithm::RS256 | Algorithm::PS256,
                AlgorithmParameters::RSA(_)
            )
    );
    if fits {
        Ok(algorithm)
    } else {
        Err(format!("its alg {algorithm:?} does not fit its key type"))
    }
}
