//! Bearer token verification, free of web-framework types.
//!
//! A token is routed by the `alg` in its header to exactly one verification
//! path, and each path pins its own algorithms: a token is never checked with
//! a key of another kind (no algorithm confusion), and `alg: none` never
//! parses. Today the one path is HS256 with the shared `BETTER_AUTH_SECRET`;
//! Better Auth's JWKS keys slot in beside it as a second [`KeyPath`].

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

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

/// The claims this service reads; others (email, name, iat …) are ignored.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// One way of verifying tokens, with its key and the algorithms pinned to it.
struct KeyPath {
    key: DecodingKey,
    validation: Validation,
}

impl KeyPath {
    fn shared_secret(secret: &str, leeway_secs: u64) -> Self {
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

    fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|err| {
                match err.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                    ErrorKind::InvalidSignature => AuthError::BadSignature,
                    ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAccepted,
                    ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => {
                        AuthError::MissingClaim("exp")
                    }
                    ErrorKind::MissingRequiredClaim(_) => AuthError::MissingClaim("sub"),
                    _ => AuthError::Malformed,
                }
            })?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::MissingClaim("sub"));
        }
        Ok(UserId::new(data.claims.sub))
    }
}

/// Verifies bearer tokens against every configured path.
pub struct TokenVerifier {
    shared_secret: Option<KeyPath>,
}

impl TokenVerifier {
    /// HS256 tokens signed with the UTF-8 bytes of `secret`.
    pub fn with_shared_secret(secret: &str, leeway_secs: u64) -> Self {
        Self {
            shared_secret: Some(KeyPath::shared_secret(secret, leeway_secs)),
        }
    }

    /// Returns the token's subject when the token is acceptable.
    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Oversized);
        }
        // The header only chooses the path; the path's own pinned algorithm
        // list is what the signature is checked against.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let path = match header.alg {
            Algorithm::HS256 => self.shared_secret.as_ref(),
            _ => None,
        };
        path.ok_or(AuthError::AlgorithmNotAccepted)?.verify(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_token_is_refused_before_parsing() {
        let verifier = TokenVerifier::with_shared_secret("s", 0);
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(verifier.verify(&huge), Err(AuthError::Oversized));
    }

    #[test]
    fn a_minted_token_verifies_with_the_same_secret_only() {
        let token = mint_token("secret-a", "demo-user", 60);
        let user = TokenVerifier::with_shared_secret("secret-a", 0).verify(&token);
        assert_eq!(user.unwrap().as_str(), "demo-user");
        let other = TokenVerifier::with_shared_secret("secret-b", 0).verify(&token);
        assert_eq!(other, Err(AuthError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let verifier = TokenVerifier::with_shared_secret("s", 0);
        assert_eq!(verifier.verify("not.a.jwt"), Err(AuthError::Malformed));
    }
}
