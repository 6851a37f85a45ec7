//! Reading a token's header and claims before its signature is checked,
//! only ever to refuse it with a precise reason: a `crit` extension, a claim
//! of the wrong type, a `sub` too long for an index or holding NUL.

use std::{borrow::Cow, cell::RefCell, fmt};

use base64::{DecodeSliceError, Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, Visitor},
};
use serde_json::Value;

use super::AuthError;
use crate::domain::UserId;

/// What this service takes from a token: its subject and expiry, checked.
pub(super) struct Claims {
    pub(super) sub: UserId,
    /// Seconds since the epoch.
    pub(super) exp: u64,
}

/// The claims as sent. A member set to `null` is `Some(Value::Null)`: present,
/// and of the wrong type.
#[derive(Deserialize)]
struct RawClaims {
    #[serde(default, deserialize_with = "present")]
    sub: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<Value>,
}

/// `Some` whenever the member is there: plain `Option` reads `null` as absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl Claims {
    /// Reads the payload of `token` and checks the claims this service uses.
    ///
    /// jsonwebtoken reports an `exp` or `sub` of the wrong type as missing, an
    /// `nbf` of the wrong type (or any of them as an object) as a malformed
    /// token; reading them here says what is wrong. This only ever refuses: a
    /// token is accepted only after jsonwebtoken has checked its signature.
    pub(super) fn read(token: &str) -> Result<Self, AuthError> {
        let mut segments = token.split('.');
        let (Some(_), Some(payload), Some(_), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(AuthError::Malformed);
        };
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::Malformed)?;
        let raw: RawClaims = serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)?;
        Self::check(raw)
    }

    /// The checks of `read`, on claims parsed as sent.
    fn check(raw: RawClaims) -> Result<Self, AuthError> {
        // `exp` and `nbf` as jsonwebtoken reads them (it checks their times).
        for (name, claim) in [("exp", &raw.exp), ("nbf", &raw.nbf)] {
            if claim.as_ref().is_some_and(|v| numeric_date(v).is_none()) {
                return Err(AuthError::NotANumericDate(name));
            }
        }
        let Some(exp) = raw.exp.as_ref().and_then(numeric_date) else {
            return Err(AuthError::MissingClaim("exp"));
        };
        let sub = match raw.sub {
            None => return Err(AuthError::MissingClaim("sub")),
            Some(Value::String(sub)) => subject(sub)?,
            Some(_) => return Err(AuthError::SubjectNotAString),
        };
        Ok(Self { sub, exp })
    }

    /// The checks of `read`, on claims jsonwebtoken parsed as `SignedClaims`
    /// from the same bytes: that parse already refused every claim of the
    /// wrong type or missing.
    pub(super) fn signed(claims: SignedClaims) -> Result<Self, AuthError> {
        Ok(Self {
            sub: subject(claims.sub)?,
            exp: claims.exp.0,
        })
    }
}

/// The claims of a token whose signature jsonwebtoken is checking: typed,
/// so that a good token's claims are read without building `Value`s. Any
/// claim this cannot read (missing, `null`, of the wrong type) fails the
/// parse, and the caller asks `Claims::read` for the precise reason.
#[derive(Deserialize)]
pub(super) struct SignedClaims {
    sub: String,
    exp: NumericDate,
    /// Read only to refuse one that is not a NumericDate, as `check` does.
    #[serde(default, deserialize_with = "present", rename = "nbf")]
    _nbf: Option<NumericDate>,
}

/// `sub` as this service takes it: 1 to `UserId::MAX_BYTES` bytes, no NUL.
fn subject(sub: String) -> Result<UserId, AuthError> {
    if sub.is_empty() {
        Err(AuthError::SubjectEmpty)
    } else if sub.len() > UserId::MAX_BYTES {
        Err(AuthError::SubjectTooLong)
    } else if sub.contains('\0') {
        Err(AuthError::SubjectHasNul)
    } else {
        Ok(UserId::new(sub))
    }
}

/// A NumericDate read straight from JSON, by the rule of `numeric_date`.
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seconds;
        impl Visitor<'_> for Seconds {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_u64<E: de::Error>(self, secs: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(secs))
            }
            fn visit_i64<E: de::Error>(self, secs: i64) -> Result<NumericDate, E> {
                u64::try_from(secs)
                    .map(NumericDate)
                    .map_err(|_| E::custom("a negative NumericDate"))
            }
            fn visit_f64<E: de::Error>(self, secs: f64) -> Result<NumericDate, E> {
                seconds(secs)
                    .map(NumericDate)
                    .ok_or_else(|| E::custom("not a NumericDate"))
            }
        }
        d.deserialize_any(Seconds)
    }
}

/// A NumericDate (RFC 7519 §2) as jsonwebtoken accepts one: a non-negative
/// number of seconds, fractions rounded.
fn numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().and_then(seconds))
}

/// Fractional seconds as jsonwebtoken accepts them: finite, non-negative,
/// below `u64::MAX`, rounded.
fn seconds(secs: f64) -> Option<u64> {
    (secs.is_finite() && secs >= 0.0 && secs < u64::MAX as f64).then(|| secs.round() as u64)
}

/// A JWS header as far as choosing the path goes: whether `crit` is there
/// at all, the algorithm named, the key id (borrowed from the decoded JSON
/// unless it holds escapes).
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(default, deserialize_with = "present")]
    crit: Option<IgnoredAny>,
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
}

/// The header fields the verifier chooses by (jsonwebtoken reads the header
/// again when it checks the signature).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TokenHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// Room for a decoded header on the stack: Better Auth's and a frontend's
/// are under 100 bytes; a larger one (an `x5c` chain, say) goes to the heap.
pub(super) const HEADER_ON_STACK: usize = 512;

/// The token's header. A token must be refused when its `crit`
/// header names an extension the recipient does not understand (RFC 7515
/// §4.1.11). This server understands none, so any `crit`, even an empty or
/// `null` one (which the RFC forbids), refuses the token, whatever else the
/// header says. jsonwebtoken parses `crit` but does not act on it.
///
/// Every token of one issuer carries the same header bytes, so the last
/// header each thread read, and what it said, is kept: the next token with
/// the same header bytes is not decoded again. Only a header that was
/// accepted is kept, and it is matched on all of its bytes.
pub(super) fn read_header(token: &str) -> Result<TokenHeader, AuthError> {
    thread_local! {
        static LAST: RefCell<Option<(Box<str>, TokenHeader)>> = const { RefCell::new(None) };
    }
    let end = token.bytes().position(|b| b == b'.').unwrap_or(token.len());
    let header = &token[..end];
    let known = LAST.with_borrow(|last| match last {
        Some((bytes, read)) if **bytes == *header => Some(read.clone()),
        _ => None,
    });
    if let Some(read) = known {
        return Ok(read);
    }
    let read = parse_header(header)?;
    LAST.set(Some((header.into(), read.clone())));
    Ok(read)
}

/// `read_header` for a header not seen last: base64url, then JSON.
fn parse_header(header: &str) -> Result<TokenHeader, AuthError> {
    let mut on_stack = [0; HEADER_ON_STACK];
    let on_heap;
    let json = match URL_SAFE_NO_PAD.decode_slice(header, &mut on_stack) {
        Ok(len) => &on_stack[..len],
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            on_heap = URL_SAFE_NO_PAD
                .decode(header)
                .map_err(|_| AuthError::Malformed)?;
            &on_heap[..]
        }
        Err(DecodeSliceError::DecodeError(_)) => return Err(AuthError::Malformed),
    };
    let raw: RawHeader = serde_json::from_slice(json).map_err(|_| AuthError::Malformed)?;
    if raw.crit.is_some() {
        return Err(AuthError::CriticalHeader);
    }
    // `none` is not an Algorithm.
    let alg = raw
        .alg
        .and_then(|alg| alg.parse().ok())
        .ok_or(AuthError::Malformed)?;
    Ok(TokenHeader {
        alg,
        kid: raw.kid.map(Cow::into_owned),
    })
}
