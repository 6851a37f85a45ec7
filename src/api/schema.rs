//! JSON types whose schema poem-openapi cannot derive exactly as the contract
//! says: timestamps that always end in `Z`, fields that are present but null,
//! a task's tags written from their stored form, and a response payload
//! serialized by serde straight into the body.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};
use poem::{
    IntoResponse, Response,
    http::{HeaderValue, header},
};
use poem_openapi::payload::Payload;
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::domain::Tags;

/// An instant in RFC 3339, UTC, microseconds: `2026-11-24T09:30:00.123456Z`.
/// Fixed width, so it sorts as text too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The text, written digit by digit into `buf`: no allocation, no
    /// `core::fmt` (which was a tenth of a 50-task list's CPU time).
    fn write<'b>(&self, buf: &'b mut [u8; 27]) -> &'b str {
        // The naive UTC value: `DateTime<Utc>`'s own accessors add the (zero)
        // offset to every call, 1.5 % of a listing's CPU time.
        let t = self.0.naive_utc();
        *buf = *b"0000-00-00T00:00:00.000000Z";
        // Years come from the server's clock: always within 0000–9999.
        let year = u32::try_from(t.year()).unwrap_or(0).min(9999);
        let micros = (t.nanosecond() / 1_000).min(999_999);
        for (range, value) in [
            (0..4, year),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, t.second().min(59)),
            (20..26, micros),
        ] {
            write_digits(&mut buf[range], value);
        }
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

/// `value`'s last `buf.len()` decimal digits, zero-padded, into `buf`.
pub fn write_digits(buf: &mut [u8], mut value: u32) {
    for digit in buf.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("date-time"),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.write(&mut [0; 27]).to_owned()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.write(&mut [0; 27]))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        let parsed = value
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok());
        match parsed {
            Some(at) => Ok(Self(at.to_utc())),
            None => Err(ParseError::expected_type(value)),
        }
    }
}

/// A task's tags as JSON: an array of strings (the schema of `Vec<String>`),
/// written straight from the stored form without a string for each tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagList(pub Tags);

impl Type for TagList {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Vec::<String>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        Vec::<String>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        Vec::<String>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for TagList {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Array(
            self.0
                .iter()
                .map(|tag| Value::String(tag.to_owned()))
                .collect(),
        ))
    }
}

impl Serialize for TagList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl ParseFromJSON for TagList {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let tags = Vec::<String>::parse_from_json(value).map_err(ParseError::propagate)?;
        Tags::new(tags).map(Self).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_an_array_of_strings_in_every_form() {
        let tags = TagList(Tags::new(vec!["home".into(), "a\"b".into()]).unwrap());
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["a\"b","home"]"#);
        assert_eq!(tags.to_json(), Some(serde_json::json!(["a\"b", "home"])));
        let none = TagList(Tags::default());
        assert_eq!(serde_json::to_string(&none).unwrap(), "[]");
        assert_eq!(none.to_json(), Some(serde_json::json!([])));
        let parsed = TagList::parse_from_json(Some(serde_json::json!(["home", "a\"b"])));
        assert_eq!(parsed.ok(), Some(tags));
        assert_eq!(TagList::schema_ref(), Vec::<String>::schema_ref());
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000007891Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            Timestamp(at).write(&mut [0; 27]),
            "2026-01-02T03:04:05.000007Z"
        );
        let json = serde_json::to_string(&Timestamp(at)).unwrap();
        assert_eq!(json, "\"2026-01-02T03:04:05.000007Z\"");
        assert_eq!(
            Timestamp(at).to_json(),
            Some(Value::String("2026-01-02T03:04:05.000007Z".into()))
        );
    }

    #[test]
    fn every_field_is_written_in_full_at_its_extremes() {
        for (text, expected) in [
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
            (
                "1999-12-31T23:59:59.999999999Z",
                "1999-12-31T23:59:59.999999Z",
            ),
            ("2026-11-24T10:09:08.070605Z", "2026-11-24T10:09:08.070605Z"),
            ("9999-12-31T23:59:59.5Z", "9999-12-31T23:59:59.500000Z"),
        ] {
            let at = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
            assert_eq!(Timestamp(at).write(&mut [0; 27]), expected, "{text}");
            // The same text chrono writes, for any instant in range.
            assert_eq!(
                Timestamp(at).write(&mut [0; 27]),
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
        }
    }
}

/// A field that is always present and may be `null` (OpenAPI 3.0 `nullable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            // OpenAPI 3.0 cannot put `nullable` beside a `$ref`, and 3.0.3 reads
            // it only beside a `type`: an `allOf` of the reference carries both
            // (and the field's description), with the referenced schema's type.
            MetaSchemaRef::Reference(name) => {
                let mut registry = Registry::new();
                T::register(&mut registry);
                let ty = registry
                    .schemas
                    .get(&name)
                    .map_or("object", |schema| schema.ty);
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    nullable: true,
                    all_of: vec![MetaSchemaRef::Reference(name)],
                    ..MetaSchema::new(ty)
                }))
            }
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a T::RawValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Null => Ok(Self(None)),
            value => T::parse_from_json(Some(value))
                .map(|inner| Self(Some(inner)))
                .map_err(ParseError::propagate),
        }
    }
}

/// A JSON response body written by serde straight into bytes, with the
/// schema of `T` (which derives both `Object` and `Serialize`, so the two
/// cannot disagree). poem-openapi's `Json` builds a `serde_json::Value` tree
/// first: for a 50-task list that was most of the response's cost.
pub struct FastJson<T>(pub T);

/// About how many bytes a value takes as JSON, so its body is allocated
/// once, not regrown (and copied) as serde writes it.
pub trait BodySize {
    fn body_size(&self) -> usize;
}

impl<T: BodySize> BodySize for Vec<T> {
    fn body_size(&self) -> usize {
        2 + self.iter().map(|item| item.body_size() + 1).sum::<usize>()
    }
}

const JSON: &str = "application/json; charset=utf-8";

impl<T: Type + Serialize> Payload for FastJson<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The headers a JSON response ends up with, at most, as far as the hot
/// routes go: content type, ETag, cache control, `Vary`, the two rate-limit
/// headers and the request id (and one spare).
const RESPONSE_HEADERS: usize = 8;

/// Bodies from this size on are written off the async worker threads.
const LARGE_BODY: usize = 256 * 1024;

impl<T: Serialize + BodySize + Send> IntoResponse for FastJson<T> {
    fn into_response(self) -> Response {
        let size = self.0.body_size();
        let mut body = Vec::with_capacity(size);
        let write = |body: &mut Vec<u8>| serde_json::to_writer(body, &self.0);
        // A listing of thousands of tasks takes milliseconds of CPU (tens in
        // a debug build): on a worker thread, a burst of them would leave
        // nothing to answer `/health` or anyone else. `block_in_place` hands
        // the worker's other tasks to a fresh thread meanwhile. (Not on a
        // current-thread runtime, as in-process tests use, where it panics.)
        // The runtime is asked only for large bodies, off the hot path.
        let multi_thread = || {
            tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
                runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            })
        };
        let written = if size >= LARGE_BODY && multi_thread() {
            tokio::task::block_in_place(|| write(&mut body))
        } else {
            write(&mut body)
        };
        match written {
            Ok(()) => {
                let mut response = Response::from(body);
                // Room for every header the response will carry (its own and
                // the middleware's: about seven), so that the map is
                // allocated once instead of grown past its first size.
                response.headers_mut().reserve(RESPONSE_HEADERS);
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
                response
            }
            Err(err) => {
                tracing::error!(error = %err, "serializing a response failed");
                poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// A string schema with the contract's limits, for hand-written request schemas.
pub fn text_schema(
    description: &'static str,
    min_length: Option<usize>,
    max_length: usize,
    pattern: &str,
    nullable: bool,
) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        min_length,
        max_length: Some(max_length),
        pattern: Some(pattern.to_owned()),
        nullable,
        ..MetaSchema::new("string")
    }))
}

pub fn boolean_schema(description: &'static str) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        ..MetaSchema::new("boolean")
    }))
}
