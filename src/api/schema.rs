//! JSON types whose schema poem-openapi cannot derive exactly as the contract
//! says: timestamps that always end in `Z`, fields that are present but null,
//! and a response payload serialized by serde straight into the body.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};
use poem::{IntoResponse, Response, http::header};
use poem_openapi::payload::Payload;
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// An instant in RFC 3339, UTC, microseconds: `2026-11-24T09:30:00.123456Z`.
/// Fixed width, so it sorts as text too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The text, formatted into `buf` without allocating (chrono's `format`
    /// re-parses its pattern on every call: the bulk of a list's cost).
    fn write<'b>(&self, buf: &'b mut [u8; 27]) -> &'b str {
        use std::io::Write;
        let t = self.0;
        let micros = t.timestamp_subsec_micros().min(999_999);
        let mut cursor = &mut buf[..];
        // Years stay within 0000–9999 (they come from the server's clock), so
        // the 27 bytes always fit.
        let _ = write!(
            cursor,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        std::str::from_utf8(buf).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

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
            reference => reference,
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

impl<T: Serialize + Send> IntoResponse for FastJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .header(header::CONTENT_TYPE, JSON)
                .body(body),
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
