//! Keyset cursors: the last task's sort values and id, with a check value
//! (12 bytes of SHA-256 over them and the listing's canonical filters and
//! order), in base64url. Opaque to clients; a cursor that was altered, or
//! that comes back with other filters or another order, does not check.

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{SortKey, SortOrder, Task, due};

/// Longest cursor accepted (the longest one made is about 1.6 KB).
const CURSOR_MAX_BYTES: usize = 4096;
/// Bytes of SHA-256 kept as a cursor's check value.
const CURSOR_CHECK_BYTES: usize = 12;

/// A value of one sort key, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Instant(DateTime<Utc>),
    Text(String),
    Rank(i16),
    /// A due date's sort key ([`due::Due::sort_key`]); `None`: no due date.
    DueKey(Option<String>),
    Done(bool),
}

/// The cursor of the page after `last`, for a listing with `fingerprint`
/// ordered by `sort`.
pub fn encode(fingerprint: &str, sort: &[(SortKey, SortOrder)], last: &Task) -> String {
    let mut values: Vec<Value> = sort
        .iter()
        .map(|(key, _)| match sort_value(*key, last) {
            SortValue::Instant(at) => json!(at.timestamp_micros()),
            SortValue::Text(text) => json!(text),
            SortValue::Rank(rank) => json!(rank),
            SortValue::DueKey(key) => json!(key),
            SortValue::Done(done) => json!(done),
        })
        .collect();
    values.push(json!(last.id));
    let payload = Value::Array(values).to_string();
    let check = cursor_check(fingerprint, &payload);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(check)
    )
}

/// The value of `key` for `task`.
pub fn sort_value(key: SortKey, task: &Task) -> SortValue {
    match key {
        SortKey::Created => SortValue::Instant(task.created_at),
        SortKey::Updated => SortValue::Instant(task.updated_at),
        SortKey::Title => SortValue::Text(task.title.clone()),
        SortKey::Priority => SortValue::Rank(task.priority.rank()),
        SortKey::Due => SortValue::DueKey(task.due.as_ref().map(due::Due::sort_key)),
        SortKey::Status => SortValue::Done(task.completed),
    }
}

fn cursor_check(fingerprint: &str, payload: &str) -> Vec<u8> {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(fingerprint.as_bytes());
    context.update(b"\n");
    context.update(payload.as_bytes());
    context.finish().as_ref()[..CURSOR_CHECK_BYTES].to_vec()
}

/// The sort values and id a cursor made by [`encode`] for the same
/// `fingerprint` and `sort` carries; a message for the client otherwise.
pub fn decode(
    cursor: &str,
    fingerprint: &str,
    sort: &[(SortKey, SortOrder)],
) -> Result<(Vec<SortValue>, i64), String> {
    let malformed =
        || "is not a cursor this server made: take it from the Link header unchanged".to_owned();
    if cursor.len() > CURSOR_MAX_BYTES {
        return Err(malformed());
    }
    let (payload, check) = cursor.split_once('.').ok_or_else(malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let check = URL_SAFE_NO_PAD.decode(check).map_err(|_| malformed())?;
    let payload = String::from_utf8(payload).map_err(|_| malformed())?;
    if check != cursor_check(fingerprint, &payload) {
        return Err(
            "was altered, or belongs to other filters or another sort: send the \
                    request the Link header gives unchanged, or start again without a cursor"
                .to_owned(),
        );
    }
    let Ok(Value::Array(mut values)) = serde_json::from_str(&payload) else {
        return Err(malformed());
    };
    let id = values
        .pop()
        .and_then(|id| id.as_i64())
        .ok_or_else(malformed)?;
    if values.len() != sort.len() {
        return Err(malformed());
    }
    let values = sort
        .iter()
        .zip(values)
        .map(|((key, _), value)| {
            Some(match key {
                SortKey::Created | SortKey::Updated => {
                    SortValue::Instant(DateTime::from_timestamp_micros(value.as_i64()?)?)
                }
                SortKey::Title => SortValue::Text(value.as_str()?.to_owned()),
                SortKey::Priority => SortValue::Rank(i16::try_from(value.as_i64()?).ok()?),
                SortKey::Due => match value {
                    Value::Null => SortValue::DueKey(None),
                    Value::String(key) => SortValue::DueKey(Some(key)),
                    _ => return None,
                },
                SortKey::Status => SortValue::Done(value.as_bool()?),
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(malformed)?;
    Ok((values, id))
}
