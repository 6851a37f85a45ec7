//! Bearer token verification, free of web-framework types.
//!
//! Two verification paths, either or both configured, each pinning its own
//! algorithms:
//! - the shared secret (`BETTER_AUTH_SECRET`): HS256 tokens a frontend mints;
//! - Better Auth's JWKS (`BETTER_AUTH_URL`): EdDSA, ES256, RS256 or PS256
//!   tokens from its `jwt()` plugin, the algorithm taken from the key.
//!
//! The token's header only routes it to one path: an HS256 token is never
//! checked against a public key, nor an asymmetric one against the secret (no
//! algorithm confusion), and `alg: none` never parses.

mod jwks;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

pub use jwks::{JwksSettings, JwksVerifier};

use crate::domain::UserId;

/// Larger tokens are refused before any parsing. Better Auth's carry the user
/// row and stay well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused. The text is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no bearer token")]
    Missing,
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    Oversized,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    AlgorithmNotAccepted,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    #[error("the token's signing key is not one of Better Auth's")]
    UnknownKey,
    /// Not the token's fault: the keys to check it cannot be fetched.
    #[error("the keys that verify tokens cannot be fetched right now; retry shortly")]
    KeysUnavailable,
}

/// The claims this service reads; others (email, name, iat …) are ignored.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// Decodes and validates `token`; the subject when it is acceptable.
fn decode_with(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<UserId, AuthError> {
    let data =
        jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAccepted,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                "exp" => AuthError::MissingClaim("exp"),
                "iss" => AuthError::MissingClaim("iss"),
                "aud" => AuthError::MissingClaim("aud"),
                _ => AuthError::MissingClaim("sub"),
            },
            _ => AuthError::Malformed,
        })?;
    if data.claims.sub.is_empty() {
        return Err(AuthError::MissingClaim("sub"));
    }
    Ok(UserId::new(data.claims.sub))
}

/// HS256 with the shared secret.
struct SharedSecret {
    key: DecodingKey,
    validation: Validation,
}

impl SharedSecret {
    fn new(secret: &str, leeway_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        // The hackathon frontends sign `{sub, email}` without iss/aud.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }
}

/// An HS256 token for `sub`, valid for `ttl_secs`, signed with `secret`: the
/// kind the frontend mints. For dev mode and `todo-api token`.
pub fn mint_token(secret: &str, sub: &str, ttl_secs: u64) -> String {
    #[derive(Serialize)]
    struct Minted<'a> {
        sub: &'a str,
        iat: i64,
        exp: i64,
    }
    let now = chrono::Utc::now().timestamp();
    let claims = Minted {
        sub,
        iat: now,
        exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

/// Verifies bearer tokens against every configured path.
#[derive(Default)]
pub struct TokenVerifier {
    shared_secret: Option<SharedSecret>,
    jwks: Option<JwksVerifier>,
}

impl TokenVerifier {
    /// HS256 tokens signed with the UTF-8 bytes of `secret`.
    pub fn with_shared_secret(secret: &str, leeway_secs: u64) -> Self {
        Self::default().and_shared_secret(secret, leeway_secs)
    }

    pub fn and_shared_secret(mut self, secret: &str, leeway_secs: u64) -> Self {
        self.shared_secret = Some(SharedSecret::new(secret, leeway_secs));
        self
    }

    /// Better Auth's tokens, checked with the keys at `settings.url`.
    pub fn and_jwks(mut self, settings: JwksSettings, leeway_secs: u64) -> Self {
        self.jwks = Some(JwksVerifier::new(settings, leeway_secs));
        self
    }

    /// Fetches Better Auth's keys ahead of the first request, if configured.
    pub async fn prefetch(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.prefetch().await;
        }
    }

    /// Returns the token's subject when the token is acceptable.
    pub async fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Oversized);
        }
        // The header only chooses the path; each path checks the signature
        // against its own pinned algorithm(s). `none` is not an Algorithm.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        match header.alg {
            Algorithm::HS256 => {
                let path = self
                    .shared_secret
                    .as_ref()
                    .ok_or(AuthError::AlgorithmNotAccepted)?;
                decode_with(token, &path.key, &path.validation)
            }
            Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256 | Algorithm::PS256 => {
                let jwks = self.jwks.as_ref().ok_or(AuthError::AlgorithmNotAccepted)?;
                jwks.verify(token, header.kid.as_deref()).await
            }
            _ => Err(AuthError::AlgorithmNotAccepted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_oversized_token_is_refused_before_parsing() {
        let verifier = TokenVerifier::with_shared_secret("s", 0);
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(verifier.verify(&huge).await, Err(AuthError::Oversized));
    }

    #[tokio::test]
    async fn a_minted_token_verifies_with_the_same_secret_only() {
        let token = mint_token("secret-a", "demo-user", 60);
        let user = TokenVerifier::with_shared_secret("secret-a", 0)
            .verify(&token)
            .await;
        assert_eq!(user.unwrap().as_str(), "demo-user");
        let other = TokenVerifier::with_shared_secret("secret-b", 0)
            .verify(&token)
            .await;
        assert_eq!(other, Err(AuthError::BadSignature));
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let verifier = TokenVerifier::with_shared_secret("s", 0);
        assert_eq!(
            verifier.verify("not.a.jwt").await,
            Err(AuthError::Malformed)
        );
    }

    #[tokio::test]
    async fn an_asymmetric_token_without_jwks_is_refused_by_algorithm() {
        let verifier = TokenVerifier::with_shared_secret("s", 0);
        // {"alg":"EdDSA","kid":"k"} . {"sub":"a"} . junk
        let token = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.eyJzdWIiOiJhIn0.AAAA";
        assert_eq!(
            verifier.verify(token).await,
            Err(AuthError::AlgorithmNotAccepted)
        );
    }
}
