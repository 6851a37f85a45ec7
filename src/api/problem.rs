//! The one error shape: RFC 9457 problem JSON. Every failure — ours, the
//! framework's parse errors, unknown routes — is rendered here.

use poem::{
    Error, IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError, ResponseError},
    http::{StatusCode, header},
};
use poem_openapi::{
    ApiResponse, Object,
    error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    registry::{
        MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
    },
    types::Type,
};
use serde::Serialize;
use serde_json::json;

use super::operations::Operation;
use crate::{
    auth::AuthError,
    db::DbError,
    domain::{FieldError, ValidationError},
};

pub const PROBLEM_JSON: &str = "application/problem+json";
/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: u32 = 5;
/// Seconds to wait before retrying a request whose key is still in use.
const KEY_IN_USE_RETRY_SECS: u32 = 1;
/// Seconds to wait before opening another event stream past the limit.
const TOO_MANY_STREAMS_RETRY_SECS: u32 = 10;

/// An RFC 9457 problem. Frontends show `detail`.
#[derive(Debug, Object, Serialize)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// Always `about:blank`: the status code and `title` say what kind of problem it is.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What went wrong, in words a user can be shown.
    pub detail: String,
    /// For 422: one entry per problem found in the request.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

/// One invalid field (or query parameter, or path segment, or `body`).
#[derive(Debug, Object, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// Everything a request handler can fail with. Its text is the problem's
/// `detail`: for 401, 403 and 404 it starts with the words frontends and
/// FastAPI-style backends search for ("Not authenticated", "Invalid token: …",
/// "Token has expired", "Access denied: …", "Task not found").
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", unauthorized_detail(.0))]
    Unauthorized(AuthError),
    /// The token cannot be checked now: Better Auth's keys are unreachable.
    #[error(transparent)]
    KeysUnavailable(AuthError),
    #[error("Access denied: the user id in the path is not the token's subject")]
    Forbidden,
    #[error("Task not found")]
    TaskNotFound,
    #[error(
        "task limit reached: a user can keep at most {0} tasks (MAX_TASKS_PER_USER); delete some and empty the trash to create more"
    )]
    TooManyTasks(u32),
    /// `If-Match` named no version the task has: its current one is `etag`.
    #[error(
        "Precondition failed: the task has changed since you read it (its ETag is now {etag}); \
         read it again and reapply your change"
    )]
    PreconditionFailed { etag: String },
    /// A request with the same `Idempotency-Key` is still running.
    #[error(
        "a request with this Idempotency-Key is still being processed; retry after Retry-After \
         seconds to get its outcome"
    )]
    KeyInUse,
    /// The change feed no longer holds every change after the number asked for.
    #[error(
        "the changes after this number are no longer kept (they are kept TRASH_RETENTION_DAYS); \
         read the feed again from since=0"
    )]
    Gone,
    /// The user already holds the most event streams an instance serves.
    #[error(
        "this user already has {0} event streams open, the most allowed \
         (EVENTS_MAX_STREAMS_PER_USER): close one, or retry after Retry-After seconds"
    )]
    TooManyStreams(usize),
    /// The user's requests exceed the instance's rate limit.
    #[error(
        "too many requests from this user (RATE_LIMIT_PER_MINUTE on this server instance); \
         retry after {0} s"
    )]
    RateLimited(u64),
    /// The address's failed authentications exceed their limit.
    #[error(
        "too many requests with a missing or refused token from this address \
         (RATE_LIMIT_FAILURES_PER_MINUTE); retry after {0} s"
    )]
    TooManyFailures(u64),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    #[error("the request body did not arrive within REQUEST_TIMEOUT_SECS ({0} s); send it at once")]
    RequestTimeout(u64),
    /// RFC 9112 §3.2: an HTTP/1.1 request names its host exactly once.
    #[error("an HTTP/1.1 request must carry exactly one Host header")]
    BadHost,
    /// A CORS preflight the server does not grant (`api/cors.rs`); the
    /// message says what is not allowed.
    #[error("{0}")]
    CorsRefused(String),
    #[error("internal server error")]
    Internal,
}

/// A 401's `detail`: the words clients search for, then the precise reason.
/// Every refused token is "Invalid token: <reason>", except an expired one,
/// which is "Token has expired" (PyJWT's and FastAPI backends' words).
fn unauthorized_detail(err: &AuthError) -> String {
    match err {
        AuthError::Missing => format!("Not authenticated: {err}"),
        AuthError::Expired => "Token has expired".to_owned(),
        _ => format!("Invalid token: {err}"),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::KeysUnavailable => Self::KeysUnavailable(err),
            other => Self::Unauthorized(other),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => {
                crate::telemetry::db_error("unavailable");
                tracing::warn!(%cause, "database unavailable");
                Self::Unavailable
            }
            DbError::Query(cause) => {
                crate::telemetry::db_error("query");
                tracing::error!(error = ?cause, "database query failed");
                Self::Internal
            }
        }
    }
}

impl From<crate::db::tasks::WriteError> for ApiError {
    fn from(err: crate::db::tasks::WriteError) -> Self {
        match err {
            crate::db::tasks::WriteError::Db(err) => err.into(),
            crate::db::tasks::WriteError::Invalid(err) => Self::Invalid(err),
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CorsRefused(_) => StatusCode::FORBIDDEN,
            Self::TaskNotFound => StatusCode::NOT_FOUND,
            Self::TooManyTasks(_) | Self::KeyInUse => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Gone => StatusCode::GONE,
            Self::TooManyStreams(_) | Self::RateLimited(_) | Self::TooManyFailures(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::BadHost => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable | Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        let errors = match self {
            Self::Invalid(ValidationError(fields)) => {
                Some(fields.iter().map(FieldProblem::from).collect())
            }
            _ => None,
        };
        let mut response = problem_response(self.status(), self.to_string(), errors);
        if let Self::RequestTimeout(_) = self {
            // The rest of the body may still be on its way: this connection
            // cannot carry another request.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        if let Self::PreconditionFailed { etag } = self
            && let Ok(etag) = header::HeaderValue::from_str(etag)
        {
            response.headers_mut().insert(header::ETAG, etag);
        }
        if let Self::KeyInUse = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, KEY_IN_USE_RETRY_SECS.into());
        }
        if let Self::RateLimited(secs) | Self::TooManyFailures(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, (*secs).into());
        }
        if let Self::TooManyStreams(_) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, TOO_MANY_STREAMS_RETRY_SECS.into());
        }
        if let Self::Unauthorized(err) = self {
            // RFC 6750 §3.1: no error code when the request had no credentials.
            let challenge = match err {
                AuthError::Missing => "Bearer",
                _ => r#"Bearer error="invalid_token""#,
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<&FieldError> for FieldProblem {
    fn from(err: &FieldError) -> Self {
        Self {
            field: err.field.to_owned(),
            message: err.message.clone(),
        }
    }
}

/// Renders a problem with the headers its status calls for.
fn problem_response(
    status: StatusCode,
    detail: String,
    errors: Option<Vec<FieldProblem>>,
) -> Response {
    let problem = Problem {
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    }
    response
}

/// Turns any error that reached the edge of the app into problem JSON.
///
/// Framework errors (bad path segment, bad query, bad JSON, wrong content
/// type, missing credentials, unknown route) get the same shape as ours.
/// `operation` is the spec's view of the operation that failed, when known:
/// it names path parameters and lists allowed values in messages.
pub fn render(err: Error, operation: Option<&Operation>) -> Response {
    if err.is::<ApiError>() {
        return err.into_response();
    }
    let invalid = |field: &str, message: &str| {
        let errors = vec![FieldProblem {
            field: field.to_owned(),
            message: message.to_owned(),
        }];
        problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid request: {field}: {message}"),
            Some(errors),
        )
    };
    if err.is::<AuthorizationError>() {
        ApiError::Unauthorized(AuthError::Missing).as_response()
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        let name = operation.map_or(e.name, |op| op.param_name(e.name));
        invalid(name, "must be a 64-bit integer")
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        match operation.and_then(|op| op.allowed_values(e.name)) {
            Some(values) => invalid(e.name, &format!("must be one of: {}", values.join(", "))),
            None => match operation.and_then(|op| op.bounds(e.name)) {
                Some(bounds) => invalid(e.name, bounds),
                None => invalid(e.name, &e.reason),
            },
        }
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        invalid("body", &e.reason)
    } else if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        problem_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{e}; send application/json"),
            None,
        )
    } else if err.is::<NotFoundError>() {
        problem_response(StatusCode::NOT_FOUND, "no such route".to_owned(), None)
    } else if err.is::<MethodNotAllowedError>() {
        problem_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this route".to_owned(),
            None,
        )
    } else {
        let status = err.status();
        if status.is_server_error() {
            tracing::error!(error = %err, "unhandled error");
        }
        let detail = status.canonical_reason().unwrap_or("error").to_lowercase();
        problem_response(status, detail, None)
    }
}

/// Which error statuses an operation documents, as bits of `ErrorSet<S>`.
pub mod statuses {
    pub const UNAUTHORIZED: u16 = 1;
    pub const FORBIDDEN: u16 = 1 << 1;
    pub const NOT_FOUND: u16 = 1 << 2;
    pub const PAYLOAD_TOO_LARGE: u16 = 1 << 3;
    pub const UNSUPPORTED_MEDIA_TYPE: u16 = 1 << 4;
    pub const UNPROCESSABLE: u16 = 1 << 5;
    pub const UNAVAILABLE: u16 = 1 << 6;
    pub const CONFLICT: u16 = 1 << 7;
    pub const REQUEST_TIMEOUT: u16 = 1 << 8;
    pub const PRECONDITION_FAILED: u16 = 1 << 9;
    /// 409 for a write that takes an `Idempotency-Key`.
    pub const KEY_IN_USE: u16 = 1 << 10;
    /// 410: the change feed from too old a number.
    pub const GONE: u16 = 1 << 11;
    /// 429: too many event streams.
    pub const TOO_MANY_STREAMS: u16 = 1 << 12;
    /// 429: the user's rate limit.
    pub const RATE_LIMITED: u16 = 1 << 13;
}

/// The error half of an operation's result: an [`ApiError`] at run time, and in
/// its type the statuses the operation can answer with, for the spec.
#[derive(Debug)]
pub struct ErrorSet<const S: u16>(pub ApiError);

impl<const S: u16> From<ApiError> for ErrorSet<S> {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl<const S: u16> From<DbError> for ErrorSet<S> {
    fn from(err: DbError) -> Self {
        Self(err.into())
    }
}

impl<const S: u16> From<ValidationError> for ErrorSet<S> {
    fn from(err: ValidationError) -> Self {
        Self(err.into())
    }
}

impl<const S: u16> From<ErrorSet<S>> for Error {
    fn from(err: ErrorSet<S>) -> Self {
        Error::from(err.0)
    }
}

impl<const S: u16> IntoResponse for ErrorSet<S> {
    fn into_response(self) -> Response {
        self.0.as_response()
    }
}

impl<const S: u16> ApiResponse for ErrorSet<S> {
    fn meta() -> MetaResponses {
        use statuses::*;
        let documented = [
            (
                UNAUTHORIZED,
                401,
                "The bearer token is missing, malformed, expired or badly signed.",
                "Token has expired",
            ),
            (
                FORBIDDEN,
                403,
                "The `user_id` in the path is not the token's subject.",
                "Access denied: the user id in the path is not the token's subject",
            ),
            (
                NOT_FOUND,
                404,
                "The user has no task with this id (another user's task is indistinguishable from a missing one).",
                "Task not found",
            ),
            (
                REQUEST_TIMEOUT,
                408,
                "The request body arrived slower than the server waits (`REQUEST_TIMEOUT_SECS`); the connection is closed.",
                "the request body did not arrive within REQUEST_TIMEOUT_SECS (30 s); send it at once",
            ),
            (
                CONFLICT | KEY_IN_USE,
                409,
                "The user already keeps the most tasks the server allows (`MAX_TASKS_PER_USER`, 10 000 by default): delete some and empty the trash first. Or, with `Retry-After`: a request with the same `Idempotency-Key` is still being processed (on any instance); retry after that many seconds to get its outcome.",
                "task limit reached: a user can keep at most 10000 tasks (MAX_TASKS_PER_USER); delete some and empty the trash to create more",
            ),
            (
                CONFLICT,
                409,
                "The user already keeps the most tasks the server allows (`MAX_TASKS_PER_USER`, 10 000 by default): delete some and empty the trash first.",
                "task limit reached: a user can keep at most 10000 tasks (MAX_TASKS_PER_USER); delete some and empty the trash to create more",
            ),
            (
                KEY_IN_USE,
                409,
                "A request with the same `Idempotency-Key` is still being processed (on any instance): retry after `Retry-After` seconds to get its outcome.",
                "a request with this Idempotency-Key is still being processed; retry after Retry-After seconds to get its outcome",
            ),
            (
                PRECONDITION_FAILED,
                412,
                "`If-Match` names no version the task has: it changed since the client read it. The `ETag` header carries its current version; read the task again, reapply the change, retry.",
                "Precondition failed: the task has changed since you read it (its ETag is now \"8\"); read it again and reapply your change",
            ),
            (
                GONE,
                410,
                "`since` (or `Last-Event-ID`) is older than the changes the server keeps (`TRASH_RETENTION_DAYS`, 30 by default): read the feed again from `since=0`, a snapshot of the current tasks.",
                "the changes after this number are no longer kept (they are kept TRASH_RETENTION_DAYS); read the feed again from since=0",
            ),
            (
                PAYLOAD_TOO_LARGE,
                413,
                "The request body is larger than the server accepts.",
                "payload too large",
            ),
            (
                UNSUPPORTED_MEDIA_TYPE,
                415,
                "The request body is not `application/json`.",
                "the `Content-Type` requested by the client is not supported: text/plain; send application/json",
            ),
            (
                UNPROCESSABLE,
                422,
                "The request is invalid: `errors` lists each problem.",
                "invalid request: title must not be empty or only whitespace",
            ),
            (
                TOO_MANY_STREAMS | RATE_LIMITED,
                429,
                "The user made more requests than one server instance allows (`RATE_LIMIT_PER_MINUTE`, 600 by default, in bursts of `RATE_LIMIT_BURST`), or already has the most event streams open that it serves (`EVENTS_MAX_STREAMS_PER_USER`, 5 by default), or (without an accepted token) this address failed authentication too often (`RATE_LIMIT_FAILURES_PER_MINUTE`, 60 a minute): retry after `Retry-After` seconds.",
                "too many requests from this user (RATE_LIMIT_PER_MINUTE on this server instance); retry after 2 s",
            ),
            (
                RATE_LIMITED,
                429,
                "The user made more requests than one server instance allows (`RATE_LIMIT_PER_MINUTE`, 600 by default, in bursts of `RATE_LIMIT_BURST`), or (without an accepted token) this address failed authentication too often (`RATE_LIMIT_FAILURES_PER_MINUTE`, 60 a minute): retry after `Retry-After` seconds. Before that, `RateLimit` and `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-10) on every authenticated response tell what is left.",
                "too many requests from this user (RATE_LIMIT_PER_MINUTE on this server instance); retry after 2 s",
            ),
            (
                TOO_MANY_STREAMS,
                429,
                "The user already has the most event streams open that one server instance serves (`EVENTS_MAX_STREAMS_PER_USER`, 5 by default): close one, or retry after `Retry-After` seconds.",
                "this user already has 5 event streams open, the most allowed (EVENTS_MAX_STREAMS_PER_USER): close one, or retry after Retry-After seconds",
            ),
            (
                UNAVAILABLE,
                503,
                "The database (or, for Better Auth's tokens, its key set) is unreachable or saturated: retry after `Retry-After` seconds.",
                "the database is unavailable; retry shortly",
            ),
        ];
        // An entry's statuses must all be the operation's; the first entry
        // of a status wins (409's two causes come first, combined).
        let mut responses: Vec<MetaResponse> = Vec::new();
        for (bits, status, description, detail) in documented {
            if S & bits == bits && !responses.iter().any(|r| r.status == Some(status)) {
                responses.push(problem_meta(status, description, detail));
            }
        }
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn retry_after_header(description: &str, required: bool) -> MetaHeader {
    MetaHeader {
        name: "Retry-After".to_owned(),
        description: Some(description.to_owned()),
        required,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("integer"))),
    }
}

fn problem_meta(status: u16, description: &'static str, detail: &str) -> MetaResponse {
    let code = StatusCode::from_u16(status).expect("documented statuses are valid");
    let mut example = json!({
        "type": "about:blank",
        "title": code.canonical_reason(),
        "status": status,
        "detail": detail,
    });
    if status == 422 {
        example["errors"] =
            json!([{ "field": "title", "message": "must not be empty or only whitespace" }]);
    }
    let header = |name: &str, description: &str, ty: &'static str| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new(ty))),
    };
    let headers = match status {
        401 => vec![header(
            "WWW-Authenticate",
            r#"`Bearer` when the request had no token, `Bearer error="invalid_token"` when its token was refused (RFC 6750)."#,
            "string",
        )],
        503 | 429 => vec![retry_after_header("Seconds to wait before retrying.", true)],
        409 if description.contains("Idempotency-Key") => vec![retry_after_header(
            "When a request with the same key is still being processed: seconds to wait before retrying.",
            !description.contains("MAX_TASKS_PER_USER"),
        )],
        412 => vec![header(
            "ETag",
            "The task's current version, as an entity tag (`\"8\"`).",
            "string",
        )],
        _ => Vec::new(),
    };
    MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: PROBLEM_JSON,
            schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
                all_of: vec![Problem::schema_ref()],
                example: Some(example),
                ..MetaSchema::ANY
            })),
        }],
        headers,
    }
}
