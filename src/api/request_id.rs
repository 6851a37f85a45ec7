//! `X-Request-Id`: the one a request brings, when it is a sane one, or a new
//! UUID; returned on the response and a field of every log line of the
//! request (the request's span), so a client's report finds its lines.

use poem::{Request, http::HeaderValue};

/// The header, lowercase as HTTP/2 and poem's map have it.
pub const HEADER: &str = "x-request-id";
/// `HEADER`, as a name made once.
pub const HEADER_NAME: poem::http::HeaderName = poem::http::HeaderName::from_static(HEADER);

/// Longest id taken from a request; a longer one is replaced.
const MAX_LEN: usize = 128;

/// A request's id: visible ASCII without spaces, quotes, commas or
/// backslashes, at most 128 bytes (nothing that could forge a log field or
/// split a header).
///
/// Kept as the header value it is sent back as: one taken from the request
/// is shared, not copied.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The request's own id if it is acceptable, else a new one.
    pub fn of(request: &Request) -> Self {
        request
            .headers()
            .get(HEADER_NAME)
            .filter(|value| Self::acceptable(value.as_bytes()))
            .map(|value| Self(value.clone()))
            .unwrap_or_else(|| {
                let mut id = [0; uuid::fmt::Hyphenated::LENGTH];
                let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
                Self(HeaderValue::from_str(id).expect("a UUID is visible ASCII"))
            })
    }

    fn acceptable(id: &[u8]) -> bool {
        (1..=MAX_LEN).contains(&id.len())
            && id.iter().all(|&b| {
                b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b',' | b'\\' | b'=' | b';')
            })
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("only visible ASCII is kept")
    }

    pub fn into_header_value(self) -> HeaderValue {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(value: &str) -> String {
        let request = Request::builder().header(HEADER, value).finish();
        RequestId::of(&request).as_str().to_owned()
    }

    #[test]
    fn a_sane_id_is_kept_and_anything_else_replaced() {
        for kept in [
            "abc-123",
            "7b0c2f7e-9b1d-4c4e-8f57-2f4d1c6a9e10",
            "trace:01/x_y.z@host+1",
        ] {
            assert_eq!(id_for(kept), kept);
        }
        let long = "a".repeat(MAX_LEN + 1);
        for replaced in ["", "a b", "x\"y", "a=b", "a,b", "é", long.as_str()] {
            let id = id_for(replaced);
            assert_ne!(id, replaced);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        }
        let none = RequestId::of(&Request::builder().finish());
        assert!(uuid::Uuid::parse_str(none.as_str()).is_ok());
    }
}
