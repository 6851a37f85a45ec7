//! One declaration per request field: its parser (the server's rules) beside
//! its schema (the same rules as the contract states them), shared by the
//! bodies in `payload.rs`.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use serde_json::Value;

use super::{Field, field};
use crate::{
    api::schema::text_schema,
    domain::{
        DESCRIPTION_MAX_CHARS, Due, FieldError, Priority, Problems, Recurrence, Reminder,
        Reminders, RepeatFrom, TAG_MAX_CHARS, TAGS_MAX, TITLE_MAX_CHARS, Tags, TaskDescription,
        TaskTitle,
        due::{parse_date, parse_datetime, parse_zone},
        parse_tag,
        recurrence::RULE_MAX_CHARS,
        reminder::REMINDERS_MAX,
    },
};

fn text<'a>(name: &'static str, value: &'a Value) -> Result<&'a str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(name, "must be a string"))
}

pub(super) fn title(value: &Value) -> Result<TaskTitle, FieldError> {
    TaskTitle::parse(text("title", value)?)
}

pub(super) fn description(value: &Value) -> Result<TaskDescription, FieldError> {
    TaskDescription::parse(text("description", value)?)
}

pub(super) fn completed(value: &Value) -> Result<bool, FieldError> {
    value
        .as_bool()
        .ok_or_else(|| FieldError::new("completed", "must be true or false"))
}

pub(super) fn priority(value: &Value) -> Result<Priority, FieldError> {
    value.as_str().and_then(Priority::parse).ok_or_else(|| {
        FieldError::new(
            "priority",
            "must be one of: none, low, medium, high (\"none\" for no priority, not null)",
        )
    })
}

pub(super) fn tags(value: &Value) -> Result<Tags, FieldError> {
    let problem = |message: String| FieldError::new("tags", message);
    let items = value
        .as_array()
        .ok_or_else(|| problem("must be an array of strings (`[]` for none)".to_owned()))?;
    if items.len() > TAGS_MAX {
        return Err(problem(format!(
            "must hold at most {TAGS_MAX} tags ({} sent)",
            items.len()
        )));
    }
    let tags = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = item
                .as_str()
                .ok_or_else(|| problem(format!("item {i} must be a string")))?;
            parse_tag(text).map_err(|message| problem(format!("item {i}: {message}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tags::new(tags).map_err(problem)
}

/// A due date in any of its three request forms (see `DUE_DOC`). Every
/// field present is checked, then `datetime` wins over `date`; `at` is the
/// server's to compute and is ignored.
pub(super) fn due(value: &Value, problems: &mut Problems) -> Option<Due> {
    let Some(fields) = value.as_object() else {
        problems.push(
            "due",
            "must be an object such as {\"date\": \"2026-12-01\"} or \
             {\"datetime\": \"2026-12-01T09:00\", \"time_zone\": \"Europe/Berlin\"}, or null",
        );
        return None;
    };
    let text = |name: &'static str| match field(fields, name.trim_start_matches("due.")) {
        Field::Missing | Field::Null => Ok(None),
        Field::Value(Value::String(text)) => Ok(Some(text.as_str())),
        Field::Value(_) => Err(FieldError::new(name, "must be a string or null")),
    };
    let (date, datetime, zone) = (
        text("due.date"),
        text("due.datetime"),
        text("due.time_zone"),
    );
    let date = problems.check(date.and_then(|date| {
        date.map(parse_date)
            .transpose()
            .map_err(|message| FieldError::new("due.date", message))
    }));
    let datetime = problems.check(datetime.and_then(|datetime| {
        datetime
            .map(parse_datetime)
            .transpose()
            .map_err(|message| FieldError::new("due.datetime", message))
    }));
    let zone = problems.check(zone.and_then(|zone| {
        zone.map(parse_zone)
            .transpose()
            .map_err(|message| FieldError::new("due.time_zone", message))
    }));
    let (date, datetime, zone) = (date?, datetime?, zone?);
    match (datetime, date) {
        (Some((local, Some(offset))), _) => {
            let at = local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()));
            Some(Due::instant(at.and_utc(), zone))
        }
        (Some((local, None)), _) => match zone {
            Some(zone) => Some(Due::wall_clock(local, zone)),
            None => problems.check(Err(FieldError::new(
                "due.time_zone",
                "is required with a datetime without an offset: an IANA name such as \
                 \"Europe/Berlin\" (or add Z or ±HH:MM to the datetime)",
            ))),
        },
        (None, Some(date)) => Some(Due::AllDay(date)),
        (None, None) => problems.check(Err(FieldError::new(
            "due",
            "needs a date (all day) or a datetime",
        ))),
    }
}

/// `{"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "repeat_from": "due"}`; the rule's
/// checks that need the due are the schedule's (`domain::Schedule`).
pub(super) fn recurrence(value: &Value, problems: &mut Problems) -> Option<Recurrence> {
    let Some(fields) = value.as_object() else {
        problems.push(
            "recurrence",
            "must be an object such as {\"rrule\": \"FREQ=WEEKLY;BYDAY=MO,TH\"}, or null for none",
        );
        return None;
    };
    let rule = match field(fields, "rrule") {
        Field::Value(Value::String(rule)) => Some(rule.as_str()),
        Field::Missing | Field::Null => problems.check(Err(FieldError::new(
            "recurrence.rrule",
            "is required: an RFC 5545 RRULE such as \"FREQ=WEEKLY;BYDAY=MO,TH\"",
        ))),
        Field::Value(_) => {
            problems.check(Err(FieldError::new("recurrence.rrule", "must be a string")))
        }
    };
    let from = match field(fields, "repeat_from") {
        Field::Missing | Field::Null => Some(RepeatFrom::Due),
        Field::Value(value) => {
            problems.check(value.as_str().and_then(RepeatFrom::parse).ok_or_else(|| {
                FieldError::new(
                    "recurrence.repeat_from",
                    "must be \"due\" or \"completion\"",
                )
            }))
        }
    };
    let (rule, from) = (rule?, from?);
    problems.check_field("recurrence.rrule", Recurrence::parse(rule, from))
}

/// `[{"before": "PT15M"}, {"at": "2026-12-01T08:00:00Z"}]`. In an item,
/// `before` wins over `at` when both are sent (a response's items carry both:
/// they can be sent back as they are).
pub(super) fn reminders(value: &Value) -> Result<Reminders, FieldError> {
    let problem = |message: String| FieldError::new("reminders", message);
    let items = value.as_array().ok_or_else(|| {
        problem("must be an array such as [{\"before\": \"PT15M\"}] (`[]` for none)".to_owned())
    })?;
    if items.len() > REMINDERS_MAX {
        return Err(problem(format!(
            "must hold at most {REMINDERS_MAX} reminders ({} sent)",
            items.len()
        )));
    }
    let reminders = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let wrong = || {
                problem(format!(
                    "item {i} must be an object with `before` (an ISO 8601 duration such as \"PT15M\") or `at` (an RFC 3339 instant)"
                ))
            };
            let fields = item.as_object().ok_or_else(wrong)?;
            let text = |name| match field(fields, name) {
                Field::Missing | Field::Null => Ok(None),
                Field::Value(Value::String(text)) => Ok(Some(text.as_str())),
                Field::Value(_) => Err(problem(format!("item {i}: `{name}` must be a string or null"))),
            };
            let (before, at) = (text("before")?, text("at")?);
            let parsed = match (before, at) {
                (Some(before), _) => Reminder::before(before),
                (None, Some(at)) => Reminder::at(at),
                (None, None) => return Err(wrong()),
            };
            parsed.map_err(|message| problem(format!("item {i}: {message}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Reminders::new(reminders).map_err(problem)
}

pub(super) fn null_reminders() -> FieldError {
    FieldError::new("reminders", "must not be null: send [] for no reminders")
}

const RECURRENCE_DOC: &str = "How the task repeats, or `null` for never (clears it). Needs a `due`: \
    the due is the first occurrence, in its own time zone.\n\
    - `rrule`: an RFC 5545 RRULE without DTSTART, at most 256 characters: `FREQ` DAILY, WEEKLY, \
    MONTHLY or YEARLY, and optionally INTERVAL (≤ 999), COUNT (≤ 1000), UNTIL (at most 10 years \
    after the due), BYDAY, BYMONTHDAY, BYMONTH, BYYEARDAY, BYWEEKNO, BYSETPOS, WKST. The time of \
    day is the due's (no BYHOUR, BYMINUTE, BYSECOND). Examples: `FREQ=WEEKLY;BYDAY=MO,TH` (Mondays \
    and Thursdays), `FREQ=MONTHLY;BYMONTHDAY=1` (the 1st), `FREQ=MONTHLY;BYDAY=-1FR` (the last \
    Friday), `FREQ=YEARLY` (every year on the due's date), `FREQ=DAILY;INTERVAL=2;COUNT=10`.\n\
    - `repeat_from`: `due` (the default: the next occurrence after the current due) or \
    `completion` (the first occurrence after the day it is completed, at the due's time).\n\
    Completing a recurring task moves its `due` to the next occurrence (it stays pending, same id), \
    keeping its wall-clock time across DST; after the last occurrence it is completed for good. \
    A rule with no occurrence after the due is a 422.";

const REMINDERS_DOC: &str = "At most 5 reminders; `[]` clears them. Each is either \
    `{\"before\": \"PT15M\"}` (an ISO 8601 duration of weeks, days, hours, minutes or seconds \
    before the due's instant, at most 366 days; needs a timed due, and moves with it) or \
    `{\"at\": \"2026-12-01T08:00:00Z\"}` (an instant). When a reminder's moment comes, the \
    `reminder` change appears in the change feed and on the event stream, once. In a response \
    each item has both keys, `at` always the instant it is for: send it back as it is \
    (`before` wins when both are set).";

const TITLE_DOC: &str = "1–200 characters, at least one of them visible (not only whitespace \
                         or invisible characters such as U+200B), no NUL (U+0000). Stored \
                         trimmed of surrounding whitespace.";
const DESCRIPTION_DOC: &str =
    "Free text, at most 1000 characters, no NUL (U+0000); `null` for none.";
/// Some character that is neither NUL, whitespace (Unicode `White_Space`,
/// what the server trims) nor invisible ([`crate::domain::is_invisible`]),
/// and no NUL anywhere: [`TaskTitle::parse`]'s rules.
pub const TITLE_PATTERN: &str = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u00ad\\u034f\\u061c\\u115f\\u1160\\u1680\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufff8][^\\u0000]*$";
/// No NUL anywhere: [`TaskDescription::parse`]'s rule besides its length.
pub const DESCRIPTION_PATTERN: &str = "^[^\\u0000]*$";

/// One tag as [`parse_tag`] takes it: only allowed characters, at least one of
/// them not whitespace (Unicode `White_Space`, what the server trims).
pub const TAG_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f,]*[^\\u0000-\\u001f\\u007f-\\u009f, \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f,]*$";
/// The shape [`parse_datetime`] takes (it also checks that the date and time exist).
pub const DATETIME_PATTERN: &str =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|z|[+-][0-9]{2}:[0-9]{2})?$";

/// The four priorities, as requests send them and responses show them.
#[derive(poem_openapi::Enum, serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename = "TaskPriority", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PriorityName {
    None,
    Low,
    Medium,
    High,
}

impl From<Priority> for PriorityName {
    fn from(priority: Priority) -> Self {
        match priority {
            Priority::None => Self::None,
            Priority::Low => Self::Low,
            Priority::Medium => Self::Medium,
            Priority::High => Self::High,
        }
    }
}

impl From<PriorityName> for Priority {
    fn from(name: PriorityName) -> Self {
        match name {
            PriorityName::None => Self::None,
            PriorityName::Low => Self::Low,
            PriorityName::Medium => Self::Medium,
            PriorityName::High => Self::High,
        }
    }
}

const PRIORITY_DOC: &str = "`none` (the default), `low`, `medium` or `high`; never null.";
const TAGS_DOC: &str = "At most 20 tags of 1–40 characters, without commas or control \
                        characters. Stored trimmed, NFC-normalised and in lower case; \
                        duplicates merge; returned sorted. `[]` clears them.";
const DUE_DOC: &str = "When the task is due, or `null` for never (clears it). One of:\n\
    - `{\"date\": \"2026-12-01\"}`: all day, the same date for every viewer;\n\
    - `{\"datetime\": \"2026-12-01T09:00\", \"time_zone\": \"Europe/Berlin\"}`: a wall-clock \
    time (seconds optional, no fractions) in an IANA time zone;\n\
    - `{\"datetime\": \"2026-12-01T08:00:00Z\"}` (or `+01:00`): an instant, kept as the wall-clock \
    time of `time_zone` if given, else of UTC.\n\
    Years 1900–2999. A wall-clock time that a DST change skips moves forward by the gap; one it \
    repeats is the earlier instant (RFC 5545). `date` (still a valid date if sent) is used only without a `datetime`, and \
    `at` (in responses) is always derived: a response's `due` can be sent back as it is.";

pub(super) fn priority_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(PRIORITY_DOC),
        all_of: vec![MetaSchemaRef::Reference("TaskPriority".to_owned())],
        ..MetaSchema::ANY
    }))
}

pub(super) fn tags_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(TAGS_DOC),
        max_items: Some(TAGS_MAX),
        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(TAG_MAX_CHARS),
            pattern: Some(TAG_PATTERN.to_owned()),
            ..MetaSchema::new("string")
        })))),
        example: Some(serde_json::json!(["home", "errands"])),
        ..MetaSchema::new("array")
    }))
}

pub(super) fn due_schema() -> MetaSchemaRef {
    let string = |description: &'static str, format: Option<&'static str>| {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(description),
            format,
            nullable: true,
            ..MetaSchema::new("string")
        }))
    };
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(DUE_DOC),
        nullable: true,
        properties: vec![
            ("date", string("All-day date, `YYYY-MM-DD`.", Some("date"))),
            (
                "datetime",
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some(
                        "`YYYY-MM-DDTHH:MM[:SS]`, wall clock; with `Z` or `±HH:MM` an instant.",
                    ),
                    pattern: Some(DATETIME_PATTERN.to_owned()),
                    nullable: true,
                    ..MetaSchema::new("string")
                })),
            ),
            (
                "time_zone",
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some(
                        "IANA time zone name, e.g. `Europe/Berlin`; required with a `datetime` \
                         without offset.",
                    ),
                    max_length: Some(64),
                    nullable: true,
                    ..MetaSchema::new("string")
                })),
            ),
        ],
        example: Some(
            serde_json::json!({"datetime": "2026-12-01T09:00", "time_zone": "Europe/Berlin"}),
        ),
        ..MetaSchema::new("object")
    }))
}

pub(super) fn recurrence_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(RECURRENCE_DOC),
        nullable: true,
        // `rrule` is required (a 422 without it) but not marked so: Optic's
        // breaking-change check reads a required property of an object that
        // is itself new in 1.4 as a new required request property.
        properties: vec![
            (
                "rrule",
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some("Required: an RFC 5545 RRULE, without DTSTART."),
                    min_length: Some(1),
                    max_length: Some(RULE_MAX_CHARS),
                    example: Some(serde_json::json!("FREQ=WEEKLY;BYDAY=MO,TH")),
                    ..MetaSchema::new("string")
                })),
            ),
            (
                "repeat_from",
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some("`due` (the default) or `completion`."),
                    all_of: vec![MetaSchemaRef::Reference("TaskRepeatFrom".to_owned())],
                    ..MetaSchema::ANY
                })),
            ),
        ],
        example: Some(
            serde_json::json!({"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "repeat_from": "due"}),
        ),
        ..MetaSchema::new("object")
    }))
}

pub(super) fn reminders_schema() -> MetaSchemaRef {
    let string = |description: &'static str, format: Option<&'static str>| {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(description),
            format,
            nullable: true,
            ..MetaSchema::new("string")
        }))
    };
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(REMINDERS_DOC),
        max_items: Some(REMINDERS_MAX),
        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
            properties: vec![
                (
                    "before",
                    string(
                        "How long before the due's instant: `PT15M`, `PT1H`, `P1D`.",
                        None,
                    ),
                ),
                (
                    "at",
                    string(
                        "The instant (RFC 3339 with `Z` or an offset).",
                        Some("date-time"),
                    ),
                ),
            ],
            ..MetaSchema::new("object")
        })))),
        example: Some(serde_json::json!([{"before": "PT15M"}])),
        ..MetaSchema::new("array")
    }))
}

/// The fields since 1.1, in both request bodies.
pub(super) fn richer_fields() -> [(&'static str, MetaSchemaRef); 5] {
    [
        ("priority", priority_schema()),
        ("tags", tags_schema()),
        ("due", due_schema()),
        ("recurrence", recurrence_schema()),
        ("reminders", reminders_schema()),
    ]
}

/// What a recurring task's next occurrence is counted from.
#[derive(poem_openapi::Enum, serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename = "TaskRepeatFrom", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RepeatFromName {
    Due,
    Completion,
}

impl From<RepeatFrom> for RepeatFromName {
    fn from(from: RepeatFrom) -> Self {
        match from {
            RepeatFrom::Due => Self::Due,
            RepeatFrom::Completion => Self::Completion,
        }
    }
}

/// `title` in both request bodies.
pub(super) fn title_schema() -> MetaSchemaRef {
    text_schema(TITLE_DOC, Some(1), TITLE_MAX_CHARS, TITLE_PATTERN, false)
}

/// `description` in both request bodies; `null` clears it.
pub(super) fn description_schema() -> MetaSchemaRef {
    text_schema(
        DESCRIPTION_DOC,
        None,
        DESCRIPTION_MAX_CHARS,
        DESCRIPTION_PATTERN,
        true,
    )
}

pub(super) fn null_priority() -> FieldError {
    FieldError::new(
        "priority",
        "must not be null: send \"none\" for no priority",
    )
}

pub(super) fn null_tags() -> FieldError {
    FieldError::new("tags", "must not be null: send [] for no tags")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's patterns accept exactly what the parsers accept, for
    /// every character of the Basic Multilingual Plane alone, leading and
    /// trailing (Schemathesis found a whitespace-only title the schema allowed).
    #[test]
    fn the_contract_patterns_agree_with_the_parsers() {
        let title = regex::Regex::new(TITLE_PATTERN).unwrap();
        let description = regex::Regex::new(DESCRIPTION_PATTERN).unwrap();
        let tag = regex::Regex::new(TAG_PATTERN).unwrap();
        for c in (0..=0xFFFF).filter_map(char::from_u32) {
            for text in [
                c.to_string(),
                format!("a{c}"),
                format!("{c}a"),
                format!("{c}{c}"),
            ] {
                assert_eq!(
                    title.is_match(&text),
                    TaskTitle::parse(&text).is_ok(),
                    "title {text:?} (U+{:04X})",
                    c as u32
                );
                assert_eq!(
                    description.is_match(&text),
                    TaskDescription::parse(&text).is_ok(),
                    "description {text:?}"
                );
                assert_eq!(
                    tag.is_match(&text),
                    parse_tag(&text).is_ok(),
                    "tag {text:?} (U+{:04X})",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn the_datetime_pattern_takes_what_the_parser_takes() {
        let pattern = regex::Regex::new(DATETIME_PATTERN).unwrap();
        for text in [
            "2026-12-01T09:00",
            "2026-12-01T09:00:30",
            "2026-12-01T09:00:30Z",
            "2026-12-01T09:00-05:00",
            "2026-12-01T09:00:00.5Z",
            "2026-12-01 09:00",
            "2026-12-01T9:00",
            "2026-12-01T09:00:00+0100",
        ] {
            let parsed = parse_datetime(text).is_ok();
            // The pattern is the shape only: where it says no, so does the parser.
            assert!(pattern.is_match(text) || !parsed, "{text}");
            assert_eq!(pattern.is_match(text), parsed, "{text}");
        }
    }
}
