//! Request bodies. They are read as raw JSON objects and checked field by
//! field, so a 422 lists every problem at once (poem-openapi's derived
//! parsers stop at the first). Each field's parser and schema are declared
//! once, side by side, in `payload/fields.rs`; the bodies below combine them.

use std::marker::PhantomData;

use poem::{Request, RequestBody, error::ReadBodyError, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    error::{ContentTypeError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};
use serde_json::{Map, Value};

mod fields;

pub use fields::{PriorityName, RepeatFromName};
use fields::{
    completed, description, description_schema, due, null_priority, null_reminders, null_tags,
    priority, recurrence, reminders, richer_fields, tags, title, title_schema,
};

use super::schema::boolean_schema;
use crate::domain::{
    FieldError, NewTask, Priority, Problems, Reminders, Tags, TaskChanges, ValidationError,
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
        <RepeatFromName as poem_openapi::types::Type>::register(registry);
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

impl<S> JsonBody<S> {
    /// The body as canonical JSON (object keys sorted, no whitespace), for
    /// telling a retried request from another; empty when there was none,
    /// or only `{}`, which means the same to every route.
    pub fn canonical(&self) -> Vec<u8> {
        // serde_json's maps are ordered by key (no `preserve_order`).
        self.fields
            .as_ref()
            .filter(|fields| !fields.is_empty())
            .and_then(|fields| serde_json::to_vec(fields).ok())
            .unwrap_or_default()
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

/// Body of `POST /api/{user_id}/tasks`.
pub struct TaskCreate;

impl BodySchema for TaskCreate {
    const NAME: &'static str = "TaskCreate";
    const DESCRIPTION: &'static str = "The new task: a `title`, and optionally a `description`, `priority` (default `none`), `tags` (default none), `due` (default none), `recurrence` (default none; needs a `due`) and `reminders` (default none). Any other field (`user_id`, `completed`, …) is ignored.";
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
        let recurrence = match field(&fields, "recurrence") {
            Field::Missing | Field::Null => None,
            Field::Value(value) => recurrence(value, &mut problems),
        };
        let reminders = match field(&fields, "reminders") {
            Field::Missing => Some(Reminders::default()),
            Field::Null => problems.check(Err(null_reminders())),
            Field::Value(value) => problems.check(reminders(value)),
        };
        problems.finish(|| NewTask {
            title: title.expect("no problems means a title"),
            description,
            priority: priority.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
            due,
            recurrence,
            reminders: reminders.unwrap_or_default(),
        })
    }
}

/// Body of `PUT /api/{user_id}/tasks/{id}`.
pub struct TaskUpdate;

impl BodySchema for TaskUpdate {
    const NAME: &'static str = "TaskUpdate";
    const DESCRIPTION: &'static str = "The fields to change, at least one. An absent field is left as it is; `description: null`, `due: null` and `recurrence: null` clear theirs, `tags: []` and `reminders: []` clear them. `completed: true` on a recurring task moves it to its next occurrence; `completed: false` on one that is pending changes nothing.";
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
                (
                    "priority",
                    MetaSchema {
                        all_of: vec![MetaSchemaRef::Reference("TaskPriority".to_owned())],
                        ..MetaSchema::new("string")
                    },
                ),
                (
                    "tags",
                    MetaSchema {
                        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::new(
                            "string",
                        ))))),
                        ..MetaSchema::new("array")
                    },
                ),
                (
                    "due",
                    MetaSchema {
                        nullable: true,
                        ..MetaSchema::new("object")
                    },
                ),
                (
                    "recurrence",
                    MetaSchema {
                        nullable: true,
                        ..MetaSchema::new("object")
                    },
                ),
                (
                    "reminders",
                    MetaSchema {
                        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::new(
                            "object",
                        ))))),
                        ..MetaSchema::new("array")
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
        let recurrence = match field(&fields, "recurrence") {
            Field::Missing => None,
            Field::Null => Some(None),
            Field::Value(value) => recurrence(value, &mut problems).map(Some),
        };
        let reminders = match field(&fields, "reminders") {
            Field::Missing => None,
            Field::Null => problems.check(Err(null_reminders())),
            Field::Value(value) => problems.check(reminders(value)),
        };
        let nothing_sent = UPDATABLE.iter().all(|name| !fields.contains_key(*name));
        if nothing_sent {
            problems.push(
                "body",
                format!("must contain at least one of {}", UPDATABLE.join(", ")),
            );
        }
        problems.finish(|| TaskChanges {
            title,
            description,
            completed,
            priority,
            tags,
            due,
            recurrence,
            reminders,
        })
    }
}

/// The fields a PUT may change.
const UPDATABLE: [&str; 8] = [
    "title",
    "description",
    "completed",
    "priority",
    "tags",
    "due",
    "recurrence",
    "reminders",
];

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
    use crate::domain::{Due, due::parse_date};

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
        assert_eq!(task.tags.iter().collect::<Vec<_>>(), ["home", "été"]);
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
