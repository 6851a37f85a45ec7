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

mod claims;
mod jwks;

use claims::{Claims, SignedClaims, read_header};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::Serialize;

pub use jwks::{JwksSettings, JwksVerifier};

use crate::domain::UserId;

/// Larger tokens are refused before any parsing. Better Auth's carry the user
/// row and stay well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused. The text is safe to show the client; it is the
/// precise reason, which the HTTP layer puts after the words clients search
/// for ("Not authenticated: …", "Invalid token: …"; see `api::problem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no bearer token")]
    Missing,
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    Oversized,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token has a `crit` header: this server supports no JWS extensions")]
    CriticalHeader,
    #[error("the token's algorithm is not accepted")]
    AlgorithmNotAccepted,
    #[error("the token's signature does not verify")]
    BadSignature,
    /// Dev mode only: a demo-user token whose signature does not verify was,
    /// most likely, printed by an earlier run (each signs with a new secret).
    #[error(
        "the token is from an earlier run of this dev-mode server, which signs with a new \
         secret each time it starts: use the token printed in the terminal at start-up, after \
         \"Token for the demo user\""
    )]
    FromEarlierDevRun,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error(
        "the token's lifetime exceeds JWT_MAX_TTL_SECS: its `exp` is more than {0} seconds ahead"
    )]
    LifetimeTooLong(u64),
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the token's `{0}` claim is not a number of seconds since 1970-01-01 UTC")]
    NotANumericDate(&'static str),
    #[error("the token's `sub` claim is not a string")]
    SubjectNotAString,
    #[error("the token's `sub` claim is empty")]
    SubjectEmpty,
    #[error("the token's `sub` is longer than {} bytes", UserId::MAX_BYTES)]
    SubjectTooLong,
    #[error("the token's `sub` contains a NUL character")]
    SubjectHasNul,
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

/// Checks `token`'s claims, then its signature and times, then its lifetime
/// against `max_ttl_secs`; the subject when it is acceptable.
fn decode_with(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
    max_ttl_secs: Option<u64>,
) -> Result<UserId, AuthError> {
    // The claims are parsed once, by jsonwebtoken, when the token is good.
    // When it is not, the claims' own faults are reported first, as the
    // more precise reason: `Claims::read` parses them again to find them.
    let claims = match jsonwebtoken::decode::<SignedClaims>(token, key, validation) {
        Ok(data) => Claims::signed(data.claims)?,
        Err(err) => {
            Claims::read(token)?;
            return Err(refusal(&err));
        }
    };
    // The signature verified: these are the signed claims.
    if let Some(max_ttl_secs) = max_ttl_secs {
        let latest = jsonwebtoken::get_current_timestamp()
            .saturating_add(max_ttl_secs)
            .saturating_add(validation.leeway);
        if claims.exp > latest {
            return Err(AuthError::LifetimeTooLong(max_ttl_secs));
        }
    }
    Ok(claims.sub)
}

/// Why jsonwebtoken refused a token whose claims were readable.
fn refusal(err: &jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAccepted,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
            "exp" => AuthError::NotANumericDate("exp"),
            "nbf" => AuthError::NotANumericDate("nbf"),
            _ => AuthError::Malformed,
        },
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => AuthError::MissingClaim("exp"),
            "iss" => AuthError::MissingClaim("iss"),
            "aud" => AuthError::MissingClaim("aud"),
            _ => AuthError::MissingClaim("sub"),
        },
        _ => AuthError::Malformed,
    }
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
/// When a token that [`TokenVerifier::verify`] accepted expires, in seconds
/// since the epoch: an event stream ends then.
pub fn expires_at(token: &str) -> Option<u64> {
    Claims::read(token).ok().map(|claims| claims.exp)
}

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
    max_ttl_secs: Option<u64>,
    /// Dev mode's demo user, whose stale tokens are explained.
    dev_mode_user: Option<String>,
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

    /// On both paths, refuses tokens whose `exp` is more than `max_ttl_secs`
    /// (plus the leeway) from now; `None`, the default, sets no maximum. Why it
    /// is optional: [`AuthConfig::max_ttl_secs`].
    ///
    /// [`AuthConfig::max_ttl_secs`]: crate::config::AuthConfig::max_ttl_secs
    pub fn and_max_ttl(mut self, max_ttl_secs: Option<u64>) -> Self {
        self.max_ttl_secs = max_ttl_secs;
        self
    }

    /// Dev mode: the shared secret is this run's own, so an HS256 token for
    /// `demo_user` that fails only its signature check is one printed by an
    /// earlier run, and is refused as [`AuthError::FromEarlierDevRun`].
    pub fn and_dev_mode(mut self, demo_user: &str) -> Self {
        self.dev_mode_user = Some(demo_user.to_owned());
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
        // `crit` is refused before the path is chosen, so that both paths
        // refuse it. The header only chooses the path; each path checks the
        // signature against its own pinned algorithm(s).
        let header = read_header(token)?;
        match header.alg {
            Algorithm::HS256 => {
                let path = self
                    .shared_secret
                    .as_ref()
                    .ok_or(AuthError::AlgorithmNotAccepted)?;
                let verdict = decode_with(token, &path.key, &path.validation, self.max_ttl_secs);
                match (verdict, &self.dev_mode_user) {
                    // The claims were read before the signature was checked.
                    (Err(AuthError::BadSignature), Some(demo_user))
                        if Claims::read(token).is_ok_and(|c| c.sub.as_str() == demo_user) =>
                    {
                        Err(AuthError::FromEarlierDevRun)
                    }
                    (verdict, _) => verdict,
                }
            }
            Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256 | Algorithm::PS256 => {
                let jwks = self.jwks.as_ref().ok_or(AuthError::AlgorithmNotAccepted)?;
                jwks.verify(token, header.kid.as_deref(), self.max_ttl_secs)
                    .await
            }
            _ => Err(AuthError::AlgorithmNotAccepted),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &str = "s";

    /// An HS256 token with this header and these claims, whatever they hold.
    fn signed(header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{message}.{signature}")
    }

    fn hs256() -> Value {
        json!({"alg": "HS256", "typ": "JWT"})
    }

    fn in_ten_minutes() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    async fn verify(claims: Value) -> Result<UserId, AuthError> {
        TokenVerifier::with_shared_secret(SECRET, 0)
            .verify(&signed(&hs256(), &claims))
            .await
    }

    #[tokio::test]
    async fn a_crit_header_is_refused_whatever_it_names_on_either_path() {
        let claims = json!({"sub": "a", "exp": in_ten_minutes()});
        let verifier = TokenVerifier::with_shared_secret(SECRET, 0);
        for crit in [
            json!(["exp"]),
            json!(["b64"]),
            json!([]),
            json!(null),
            json!("x"),
        ] {
            let mut header = hs256();
            header["crit"] = crit.clone();
            assert_eq!(
                verifier.verify(&signed(&header, &claims)).await,
                Err(AuthError::CriticalHeader),
                "crit: {crit}"
            );
        }
        // An asymmetric token is refused before it is routed to the JWKS path.
        let eddsa = signed(
            &json!({"alg": "EdDSA", "kid": "k", "crit": ["b64"]}),
            &claims,
        );
        assert_eq!(
            verifier.verify(&eddsa).await,
            Err(AuthError::CriticalHeader)
        );
        // Without `crit`, the same token passes.
        assert!(verifier.verify(&signed(&hs256(), &claims)).await.is_ok());
    }

    #[test]
    fn the_header_read_last_is_reused_only_for_the_same_bytes() {
        let claims = json!({"sub": "a", "exp": in_ten_minutes()});
        let plain = signed(&hs256(), &claims);
        let with_kid = signed(&json!({"alg": "HS256", "kid": "k1"}), &claims);
        let mut critical = hs256();
        critical["crit"] = json!([]);
        let critical = signed(&critical, &claims);
        let header_end = plain.find('.').unwrap();
        // The plain header's bytes less its last character.
        let cut = format!("{}{}", &plain[..header_end - 1], &plain[header_end..]);
        let expected = claims::TokenHeader {
            alg: Algorithm::HS256,
            kid: None,
        };
        // Twice round, so that each is read both fresh and after the others.
        for _ in 0..2 {
            assert_eq!(read_header(&plain), Ok(expected.clone()));
            assert_eq!(read_header(&plain), Ok(expected.clone()));
            assert_eq!(read_header(&critical), Err(AuthError::CriticalHeader));
            assert_eq!(read_header(&critical), Err(AuthError::CriticalHeader));
            assert_eq!(read_header(&with_kid).unwrap().kid.as_deref(), Some("k1"));
            assert_eq!(read_header(&plain).unwrap().kid, None);
            assert_eq!(read_header(&cut), Err(AuthError::Malformed));
        }
    }

    #[test]
    fn the_typed_claims_of_a_good_signature_get_the_verdicts_of_claims_read() {
        // Each is accepted (or refused) the same through the typed parse of a
        // good signature and through `Claims::read`.
        let exp = in_ten_minutes();
        let cases = [
            json!({"sub": "a", "exp": exp}),
            json!({"sub": "a", "exp": exp as f64 + 0.4}),
            json!({"sub": "a", "exp": exp, "nbf": 0}),
            json!({"sub": "a", "exp": exp, "nbf": 1.5}),
            json!({"sub": "a", "exp": exp, "nbf": null}),
            json!({"sub": "a", "exp": exp, "nbf": -1}),
            json!({"sub": "a", "exp": exp, "nbf": "0"}),
            json!({"sub": "a", "exp": null}),
            json!({"sub": "a", "exp": -5}),
            json!({"sub": "a", "exp": 1e300}),
            json!({"sub": "a"}),
            json!({"sub": "", "exp": exp}),
            json!({"sub": "a\u{0}b", "exp": exp}),
            json!({"sub": 7, "exp": exp}),
            json!({"sub": null, "exp": exp}),
            json!({"exp": exp}),
            json!({"sub": "x".repeat(UserId::MAX_BYTES + 1), "exp": exp}),
        ];
        let path = TokenVerifier::with_shared_secret(SECRET, 0)
            .shared_secret
            .unwrap();
        for claims in cases {
            let token = signed(&hs256(), &claims);
            let typed = decode_with(&token, &path.key, &path.validation, None);
            let read = Claims::read(&token).map(|c| c.sub);
            match (&typed, &read) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{claims}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{claims}"),
                _ => panic!("{claims}: typed {typed:?}, read {read:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_header_too_large_for_the_stack_is_read_all_the_same() {
        let claims = json!({"sub": "a", "exp": in_ten_minutes()});
        let verifier = TokenVerifier::with_shared_secret(SECRET, 0);
        let mut header = hs256();
        header["x5u"] = json!("x".repeat(2 * claims::HEADER_ON_STACK));
        assert!(verifier.verify(&signed(&header, &claims)).await.is_ok());
        header["crit"] = json!(["b64"]);
        assert_eq!(
            verifier.verify(&signed(&header, &claims)).await,
            Err(AuthError::CriticalHeader)
        );
        // Escapes in the header's strings are read as JSON has them:
        // `HS\u0032\u00356` is `HS256`.
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS\u0032\u00356"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
        let escaped = format!("{message}.{signature}");
        assert_eq!(verifier.verify(&escaped).await.unwrap().as_str(), "a");
    }

    #[tokio::test]
    async fn a_token_living_longer_than_the_maximum_is_refused_when_one_is_set() {
        let now = chrono::Utc::now().timestamp();
        let token = |ttl: i64| signed(&hs256(), &json!({"sub": "a", "exp": now + ttl}));
        let one_hour = TokenVerifier::with_shared_secret(SECRET, 5).and_max_ttl(Some(3600));
        assert!(one_hour.verify(&token(900)).await.is_ok(), "15 min");
        assert!(one_hour.verify(&token(3600)).await.is_ok(), "1 h");
        assert!(
            one_hour.verify(&token(3605)).await.is_ok(),
            "1 h and the leeway"
        );
        assert_eq!(
            one_hour.verify(&token(3600 + 60)).await,
            Err(AuthError::LifetimeTooLong(3600))
        );
        assert_eq!(
            AuthError::LifetimeTooLong(3600).to_string(),
            "the token's lifetime exceeds JWT_MAX_TTL_SECS: its `exp` is more than 3600 seconds ahead"
        );
        // Unset, as by default: no maximum.
        let ten_years = token(10 * 365 * 24 * 3600);
        let unbounded = TokenVerifier::with_shared_secret(SECRET, 5);
        assert!(unbounded.verify(&ten_years).await.is_ok());
    }

    #[tokio::test]
    async fn an_exp_or_nbf_that_is_not_a_number_is_called_that_not_missing() {
        let not_numbers = [
            json!("soon"),
            json!({"at": 1}),
            json!([1]),
            json!(null),
            json!(true),
            json!(-5),
        ];
        for bad in not_numbers {
            assert_eq!(
                verify(json!({"sub": "a", "exp": bad})).await,
                Err(AuthError::NotANumericDate("exp")),
                "exp: {bad}"
            );
            assert_eq!(
                verify(json!({"sub": "a", "exp": in_ten_minutes(), "nbf": bad})).await,
                Err(AuthError::NotANumericDate("nbf")),
                "nbf: {bad}"
            );
        }
        assert_eq!(
            AuthError::NotANumericDate("exp").to_string(),
            "the token's `exp` claim is not a number of seconds since 1970-01-01 UTC"
        );
        assert_eq!(
            verify(json!({"sub": "a"})).await,
            Err(AuthError::MissingClaim("exp"))
        );
        // RFC 7519's NumericDate may have a fraction.
        let exp = in_ten_minutes() as f64 + 0.5;
        assert!(verify(json!({"sub": "a", "exp": exp})).await.is_ok());
    }

    #[tokio::test]
    async fn a_sub_may_be_255_bytes_of_utf8_and_no_more() {
        // 127 two-byte characters and one more byte: 255 bytes, 128 characters.
        let longest = format!("{}a", "é".repeat(127));
        assert_eq!(longest.len(), UserId::MAX_BYTES);
        let user = verify(json!({"sub": longest, "exp": in_ten_minutes()})).await;
        assert_eq!(user.unwrap().as_str(), longest);

        // 128 characters again, but 256 bytes.
        let too_long = "é".repeat(128);
        assert_eq!(
            verify(json!({"sub": too_long, "exp": in_ten_minutes()})).await,
            Err(AuthError::SubjectTooLong)
        );
        assert_eq!(
            AuthError::SubjectTooLong.to_string(),
            "the token's `sub` is longer than 255 bytes"
        );
    }

    #[tokio::test]
    async fn a_sub_with_nul_is_refused() {
        for sub in ["\0", "alice\0", "\0alice", "al\0ice"] {
            assert_eq!(
                verify(json!({"sub": sub, "exp": in_ten_minutes()})).await,
                Err(AuthError::SubjectHasNul),
                "{sub:?}"
            );
        }
        assert_eq!(
            AuthError::SubjectHasNul.to_string(),
            "the token's `sub` contains a NUL character"
        );
    }

    #[tokio::test]
    async fn a_sub_that_is_not_a_string_says_so() {
        let not_strings = [
            json!(42),
            json!(null),
            json!(true),
            json!(["a"]),
            json!({"id": "a"}),
        ];
        for bad in not_strings {
            assert_eq!(
                verify(json!({"sub": bad, "exp": in_ten_minutes()})).await,
                Err(AuthError::SubjectNotAString),
                "sub: {bad}"
            );
        }
        assert_eq!(
            AuthError::SubjectNotAString.to_string(),
            "the token's `sub` claim is not a string"
        );
        assert_eq!(
            verify(json!({"exp": in_ten_minutes()})).await,
            Err(AuthError::MissingClaim("sub"))
        );
        assert_eq!(
            AuthError::MissingClaim("sub").to_string(),
            "the token has no `sub` claim"
        );
        assert_eq!(
            verify(json!({"sub": "", "exp": in_ten_minutes()})).await,
            Err(AuthError::SubjectEmpty)
        );
    }

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
    async fn in_dev_mode_a_demo_token_from_an_earlier_run_is_called_that() {
        let dev = TokenVerifier::with_shared_secret("this-run", 0).and_dev_mode("demo-user");
        let earlier = mint_token("earlier-run", "demo-user", 60);
        assert_eq!(
            dev.verify(&earlier).await,
            Err(AuthError::FromEarlierDevRun)
        );
        // Another user's token, or outside dev mode: just a bad signature.
        let other = mint_token("earlier-run", "alice", 60);
        assert_eq!(dev.verify(&other).await, Err(AuthError::BadSignature));
        let production = TokenVerifier::with_shared_secret("this-run", 0);
        assert_eq!(
            production.verify(&earlier).await,
            Err(AuthError::BadSignature)
        );
        // This run's token still works.
        let current = mint_token("this-run", "demo-user", 60);
        assert_eq!(dev.verify(&current).await.unwrap().as_str(), "demo-user");
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
