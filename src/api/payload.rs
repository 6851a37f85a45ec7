//! Request bodies. They are read as raw JSON objects and checked field by
//! field here, so a 422 lists every problem at once (poem-openapi's derived
//! parsers stop at the first). Their schemas are written out below.

use std::marker::PhantomData;

use poem::{Request, RequestBody, error::ReadBodyError, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    error::{ContentTypeError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};
use serde_json::{Map, Value};

use super::schema::{boolean_schema, text_schema};
use crate::domain::{
    DESCRIPTION_MAX_CHARS, Due, FieldError, NewTask, Priority, TAG_MAX_CHARS, TAGS_MAX,
    TITLE_MAX_CHARS, Tags, TaskChanges, TaskDescription, TaskTitle, ValidationError,
    due::{parse_date, parse_datetime, parse_zone},
    parse_tag,
};

/// Largest request body read; a larger one is refused with 413 unread.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The name, description and schema of one kind of request body.
pub trait BodySchema {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Whether a request without a body is acceptable.
    const REQUIRED: bool;
    fn schema() -> MetaSchema;
}

/// A JSON object body, not yet validated. `None` when an optional body is absent.
pub struct JsonBody<S> {
    fields: Option<Map<String, Value>>,
    schema: PhantomData<S>,
}

impl<'a, S: BodySchema + Send> ApiExtractor<'a> for JsonBody<S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <PriorityName as poem_openapi::types::Type>::register(registry);
        registry.create_schema::<S, _>(S::NAME.to_owned(), |_| S::schema());
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(S::DESCRIPTION),
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: MetaSchemaRef::Reference(S::NAME.to_owned()),
            }],
            required: S::REQUIRED,
        })
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let bytes = body
            .take()?
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|err| match err {
                ReadBodyError::PayloadTooLarge => {
                    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
                }
                other => other.into(),
            })?;
        let payload_error = |reason: &str| ParseRequestPayloadError {
            reason: reason.to_owned(),
        };
        // Only an empty body is no body: anything else must be JSON, sent as
        // JSON (a lone form feed is neither).
        if bytes.is_empty() {
            return if S::REQUIRED {
                Err(payload_error("a JSON object body is required").into())
            } else {
                Ok(Self {
                    fields: None,
                    schema: PhantomData,
                })
            };
        }
        match req.content_type() {
            Some(content_type) if is_json(content_type) => {}
            Some(content_type) => {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into());
            }
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(fields)) => Ok(Self {
                fields: Some(fields),
                schema: PhantomData,
            }),
            Ok(_) => Err(payload_error("the body must be a JSON object").into()),
            Err(err) => Err(payload_error(&format!("the body is not valid JSON: {err}")).into()),
        }
    }
}

/// `application/json`, or any `application/*+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some(subtype) = essence
        .to_ascii_lowercase()
        .strip_prefix("application/")
        .map(str::to_owned)
    else {
        return false;
    };
    subtype == "json" || subtype.ends_with("+json")
}

/// A field as sent: missing, `null`, or a value.
enum Field<'a> {
    Missing,
    Null,
    Value(&'a Value),
}

fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Field<'a> {
    match fields.get(name) {
        None => Field::Missing,
        Some(Value::Null) => Field::Null,
        Some(value) => Field::Value(value),
    }
}

/// Collects field problems so that all of them are reported together.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.0.push(err)).ok()
    }

    fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ValidationError(self.0))
        }
    }
}

fn text<'a>(name: &'static str, value: &'a Value) -> Result<&'a str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(name, "must be a string"))
}

fn title(value: &Value) -> Result<TaskTitle, FieldError> {
    TaskTitle::parse(text("title", value)?)
}

fn description(value: &Value) -> Result<TaskDescription, FieldError> {
    TaskDescription::parse(text("description", value)?)
}

fn completed(value: &Value) -> Result<bool, FieldError> {
    value
        .as_bool()
        .ok_or_else(|| FieldError::new("completed", "must be true or false"))
}

fn priority(value: &Value) -> Result<Priority, FieldError> {
    value.as_str().and_then(Priority::parse).ok_or_else(|| {
        FieldError::new(
            "priority",
            "must be one of: none, low, medium, high (\"none\" for no priority, not null)",
        )
    })
}

fn tags(value: &Value) -> Result<Tags, FieldError> {
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
fn due(value: &Value, problems: &mut Problems) -> Option<Due> {
    let Some(fields) = value.as_object() else {
        problems.0.push(FieldError::new(
            "due",
            "must be an object such as {\"date\": \"2026-12-01\"} or \
             {\"datetime\": \"2026-12-01T09:00\", \"time_zone\": \"Europe/Berlin\"}, or null",
        ));
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
    repeats is the earlier instant (RFC 5545). `date` is read only without a `datetime`, and \
    `at` (in responses) is always derived: a response's `due` can be sent back as it is.";

fn priority_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(PRIORITY_DOC),
        all_of: vec![MetaSchemaRef::Reference("TaskPriority".to_owned())],
        ..MetaSchema::ANY
    }))
}

fn tags_schema() -> MetaSchemaRef {
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

fn due_schema() -> MetaSchemaRef {
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

/// The 1.1 fields, in both request bodies.
fn richer_fields() -> [(&'static str, MetaSchemaRef); 3] {
    [
        ("priority", priority_schema()),
        ("tags", tags_schema()),
        ("due", due_schema()),
    ]
}

/// `title` in both request bodies.
fn title_schema() -> MetaSchemaRef {
    text_schema(TITLE_DOC, Some(1), TITLE_MAX_CHARS, TITLE_PATTERN, false)
}

/// `description` in both request bodies; `null` clears it.
fn description_schema() -> MetaSchemaRef {
    text_schema(
        DESCRIPTION_DOC,
        None,
        DESCRIPTION_MAX_CHARS,
        DESCRIPTION_PATTERN,
        true,
    )
}

/// Body of `POST /api/{user_id}/tasks`.
pub struct TaskCreate;

impl BodySchema for TaskCreate {
    const NAME: &'static str = "TaskCreate";
    const DESCRIPTION: &'static str = "The new task: a `title`, and optionally a `description`, `priority` (default `none`), `tags` (default none) and `due` (default none). Any other field (`user_id`, `completed`, …) is ignored.";
    const REQUIRED: bool = true;

    fn schema() -> MetaSchema {
        MetaSchema {
            required: vec!["title"],
            properties: [
                ("title", title_schema()),
                ("description", description_schema()),
            ]
            .into_iter()
            .chain(richer_fields())
            .collect(),
            example: Some(serde_json::json!({
                "title": "Buy milk",
                "description": "2 litres, semi-skimmed",
                "priority": "high",
                "tags": ["errands"],
                "due": {"date": "2026-12-01"}
            })),
            ..MetaSchema::new("object")
        }
    }
}

impl JsonBody<TaskCreate> {
    pub fn into_new_task(self) -> Result<NewTask, ValidationError> {
        let fields = self.fields.unwrap_or_default();
        let mut problems = Problems::default();
        let title = match field(&fields, "title") {
            Field::Missing | Field::Null => {
                problems.check(Err(FieldError::new("title", "is required")))
            }
            Field::Value(value) => problems.check(title(value)),
        };
        let description = match field(&fields, "description") {
            Field::Missing | Field::Null => None,
            Field::Value(value) => problems.check(description(value)),
        };
        let priority = match field(&fields, "priority") {
            Field::Missing => Some(Priority::None),
            Field::Null => problems.check(Err(null_priority())),
            Field::Value(value) => problems.check(priority(value)),
        };
        let tags = match field(&fields, "tags") {
            Field::Missing => Some(Tags::default()),
            Field::Null => problems.check(Err(null_tags())),
            Field::Value(value) => problems.check(tags(value)),
        };
        let due = match field(&fields, "due") {
            Field::Missing | Field::Null => None,
            Field::Value(value) => due(value, &mut problems),
        };
        problems.finish(|| NewTask {
            title: title.expect("no problems means a title"),
            description,
            priority: priority.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
            due,
        })
    }
}

/// Body of `PUT /api/{user_id}/tasks/{id}`.
pub struct TaskUpdate;

impl BodySchema for TaskUpdate {
    const NAME: &'static str = "TaskUpdate";
    const DESCRIPTION: &'static str = "The fields to change, at least one. An absent field is left as it is; `description: null` and `due: null` clear theirs, `tags: []` clears the tags.";
    const REQUIRED: bool = true;

    fn schema() -> MetaSchema {
        MetaSchema {
            properties: [
                ("title", title_schema()),
                ("description", description_schema()),
                ("completed", boolean_schema("Whether the task is done.")),
            ]
            .into_iter()
            .chain(richer_fields())
            .collect(),
            // At least one of the three (other properties do not count). Each
            // branch repeats its property's type, so generated clients type it.
            any_of: [
                ("title", MetaSchema::new("string")),
                (
                    "description",
                    MetaSchema {
                        nullable: true,
                        ..MetaSchema::new("string")
                    },
                ),
                ("completed", MetaSchema::new("boolean")),
                ("priority", MetaSchema::new("string")),
                ("tags", MetaSchema::new("array")),
                (
                    "due",
                    MetaSchema {
                        nullable: true,
                        ..MetaSchema::new("object")
                    },
                ),
            ]
            .into_iter()
            .map(|(name, schema)| {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    required: vec![name],
                    properties: vec![(name, MetaSchemaRef::Inline(Box::new(schema)))],
                    ..MetaSchema::ANY
                }))
            })
            .collect(),
            example: Some(serde_json::json!({"title": "Buy oat milk", "description": null})),
            ..MetaSchema::new("object")
        }
    }
}

impl JsonBody<TaskUpdate> {
    pub fn into_changes(self) -> Result<TaskChanges, ValidationError> {
        let fields = self.fields.unwrap_or_default();
        let mut problems = Problems::default();
        let title = match field(&fields, "title") {
            Field::Missing => None,
            Field::Null => problems.check(Err(FieldError::new("title", "must not be null"))),
            Field::Value(value) => problems.check(title(value)),
        };
        let description = match field(&fields, "description") {
            Field::Missing => None,
            Field::Null => Some(None),
            Field::Value(value) => problems.check(description(value)).map(Some),
        };
        let completed = match field(&fields, "completed") {
            Field::Missing => None,
            Field::Null => problems.check(Err(FieldError::new("completed", "must not be null"))),
            Field::Value(value) => problems.check(completed(value)),
        };
        let priority = match field(&fields, "priority") {
            Field::Missing => None,
            Field::Null => problems.check(Err(null_priority())),
            Field::Value(value) => problems.check(priority(value)),
        };
        let tags = match field(&fields, "tags") {
            Field::Missing => None,
            Field::Null => problems.check(Err(null_tags())),
            Field::Value(value) => problems.check(tags(value)),
        };
        let due = match field(&fields, "due") {
            Field::Missing => None,
            Field::Null => Some(None),
            Field::Value(value) => due(value, &mut problems).map(Some),
        };
        let nothing_sent = UPDATABLE.iter().all(|name| !fields.contains_key(*name));
        if nothing_sent {
            problems.0.push(FieldError::new(
                "body",
                format!("must contain at least one of {}", UPDATABLE.join(", ")),
            ));
        }
        problems.finish(|| TaskChanges {
            title,
            description,
            completed,
            priority,
            tags,
            due,
        })
    }
}

/// The fields a PUT may change.
const UPDATABLE: [&str; 6] = [
    "title",
    "description",
    "completed",
    "priority",
    "tags",
    "due",
];

fn null_priority() -> FieldError {
    FieldError::new(
        "priority",
        "must not be null: send \"none\" for no priority",
    )
}

fn null_tags() -> FieldError {
    FieldError::new("tags", "must not be null: send [] for no tags")
}

/// Optional body of `PATCH /api/{user_id}/tasks/{id}/complete`.
pub struct TaskCompletion;

impl BodySchema for TaskCompletion {
    const NAME: &'static str = "TaskCompletion";
    const DESCRIPTION: &'static str = "Optional. Without a body (or without `completed`) the task's state is toggled; with `completed` it is set.";
    const REQUIRED: bool = false;

    fn schema() -> MetaSchema {
        MetaSchema {
            properties: vec![("completed", boolean_schema("The state to set."))],
            example: Some(serde_json::json!({"completed": true})),
            ..MetaSchema::new("object")
        }
    }
}

impl JsonBody<TaskCompletion> {
    /// `Ok(None)` asks for a toggle.
    pub fn into_completed(self) -> Result<Option<bool>, ValidationError> {
        let Some(fields) = self.fields else {
            return Ok(None);
        };
        let mut problems = Problems::default();
        let state = match field(&fields, "completed") {
            Field::Missing => None,
            Field::Null => {
                problems.check(Err(FieldError::new("completed", "must be true or false")))
            }
            Field::Value(value) => problems.check(completed(value)),
        };
        problems.finish(|| state)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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

    fn body<S>(value: Value) -> JsonBody<S> {
        let Value::Object(fields) = value else {
            panic!("test bodies are objects")
        };
        JsonBody {
            fields: Some(fields),
            schema: PhantomData,
        }
    }

    fn fields_of(err: ValidationError) -> Vec<&'static str> {
        err.0.iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_invalid_field_of_a_create_is_reported() {
        let err = body::<TaskCreate>(json!({"title": "  ", "description": 7}))
            .into_new_task()
            .unwrap_err();
        assert_eq!(fields_of(err), ["title", "description"]);
    }

    #[test]
    fn a_numeric_title_is_not_coerced_to_text() {
        let err = body::<TaskCreate>(json!({"title": 123}))
            .into_new_task()
            .unwrap_err();
        assert_eq!(err.0[0].message, "must be a string");
    }

    #[test]
    fn update_distinguishes_absent_from_null() {
        let changes = body::<TaskUpdate>(json!({"description": null}))
            .into_changes()
            .unwrap();
        assert_eq!(changes.description, Some(None));
        assert_eq!(changes.title, None);
        let changes = body::<TaskUpdate>(json!({"completed": true}))
            .into_changes()
            .unwrap();
        assert_eq!(changes.description, None);
    }

    #[test]
    fn an_empty_update_is_refused() {
        let err = body::<TaskUpdate>(json!({"user_id": "x"}))
            .into_changes()
            .unwrap_err();
        assert_eq!(fields_of(err), ["body"]);
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

    #[test]
    fn every_problem_with_the_richer_fields_is_reported() {
        let err = body::<TaskCreate>(json!({
            "title": "t",
            "priority": null,
            "tags": ["ok", "a,b", 3],
            "due": {"datetime": "2026-12-01T09:00", "date": "2026-13-01"}
        }))
        .into_new_task()
        .unwrap_err();
        assert_eq!(fields_of(err), ["priority", "tags", "due.date"]);
        let err =
            body::<TaskCreate>(json!({"title": "t", "due": {"datetime": "2026-12-01T09:00"}}))
                .into_new_task()
                .unwrap_err();
        assert_eq!(fields_of(err), ["due.time_zone"]);
        let task = body::<TaskCreate>(json!({
            "title": "t",
            "tags": [" Home", "home", "ÉTÉ"],
            "due": {"date": "2026-03-08", "datetime": null, "time_zone": null, "at": null}
        }))
        .into_new_task()
        .unwrap();
        assert_eq!(task.tags.as_slice(), ["home", "été"]);
        assert_eq!(
            task.due,
            Some(Due::AllDay(parse_date("2026-03-08").unwrap()))
        );
        assert_eq!(task.priority, Priority::None);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonp"));
    }
}
