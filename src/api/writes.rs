//! How every write route runs: conditionally (`If-Match`) and, with an
//! `Idempotency-Key`, at most once per key.
//!
//! A write with a key runs in one database transaction that first takes the
//! key (`db::idempotency::claim`), then writes, then stores the response it
//! is about to send: the write and its record commit together. A retry finds
//! the record and gets the same response again, marked
//! `Idempotent-Replayed: true`; one sent while the first is still running
//! gets 409 with `Retry-After`; the key with another request gets 422.
//! Responses of 5xx are not stored (the transaction rolls back). Requests
//! refused before they run (401, 403, 422 for their own headers or body) do
//! not reach here, so nothing is stored for them either.

use std::{
    collections::HashSet,
    marker::PhantomData,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{
    Body, FromRequest, IntoResponse, Request, RequestBody, Response,
    error::ResponseError,
    http::{HeaderName, HeaderValue, StatusCode, header, header::AsHeaderName},
};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
};

use super::{AppState, problem::ApiError};
use crate::{
    db::{
        self, DbError,
        idempotency::{Claim, Outcome},
    },
    domain::{EntityTags, FieldError, IdempotencyKey, Precondition, UserId, ValidationError},
};

/// The request header that names a write.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header that marks a replay.
const REPLAYED: &str = "idempotent-replayed";

/// What the server keeps for idempotency keys.
#[derive(Clone)]
pub struct IdempotencySettings {
    /// How long an outcome is replayed (`IDEMPOTENCY_RETENTION_HOURS`).
    pub retention: Duration,
    /// Keys of requests running on this instance: a retry of one of them is
    /// answered 409 at once. (PostgreSQL's advisory lock answers it for
    /// other instances; on SQLite a retry would otherwise wait for the
    /// first to finish and then replay it.)
    running: Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
}

impl IdempotencySettings {
    pub fn new(retention: Duration) -> Self {
        Self {
            retention,
            running: Arc::default(),
        }
    }
}

/// Marks a key as running on this instance until dropped.
struct Running {
    keys: Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
    key: (UserId, IdempotencyKey),
}

impl Running {
    fn claim(settings: &IdempotencySettings, owner: &UserId, key: &IdempotencyKey) -> Option<Self> {
        let entry = (owner.clone(), key.clone());
        let mut keys = settings.running.lock().unwrap_or_else(|e| e.into_inner());
        keys.insert(entry.clone()).then(|| Self {
            keys: Arc::clone(&settings.running),
            key: entry,
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.remove(&self.key);
    }
}

/// The headers of a write request that make it conditional or idempotent,
/// parsed (a malformed one is a 422 naming it).
pub struct WriteHeaders {
    pub precondition: Option<Precondition>,
    if_match: Option<String>,
    key: Option<IdempotencyKey>,
}

/// A request header's value as sent (several lines joined by commas, as
/// RFC 9110 §5.3 allows), also when it is not visible ASCII, which
/// poem-openapi's typed headers would take for absent.
pub fn raw_header(request: &Request, name: impl AsHeaderName) -> Option<String> {
    let mut values = request.headers().get_all(name).iter().peekable();
    values.peek()?;
    let joined: Vec<String> = values
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    Some(joined.join(", "))
}

impl WriteHeaders {
    /// `If-Match` (when the route takes it) and `Idempotency-Key`, from the request.
    pub fn of(request: &Request, conditional: bool) -> Result<Self, ValidationError> {
        let if_match = conditional
            .then(|| raw_header(request, header::IF_MATCH))
            .flatten();
        let key = raw_header(request, IDEMPOTENCY_KEY);
        Self::parse(if_match.as_deref(), key.as_deref())
    }

    fn parse(
        if_match: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let mut problems = Vec::new();
        let precondition = match if_match.map(EntityTags::parse) {
            None => None,
            Some(Ok(tags)) => Some(tags.as_precondition()),
            Some(Err(message)) => {
                problems.push(FieldError::new("If-Match", message));
                None
            }
        };
        let key = match idempotency_key.map(IdempotencyKey::parse) {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(message)) => {
                problems.push(FieldError::new("Idempotency-Key", message));
                None
            }
        };
        if !problems.is_empty() {
            return Err(ValidationError(problems));
        }
        Ok(Self {
            precondition,
            if_match: if_match.map(str::to_owned),
            key,
        })
    }
}

/// A write in progress: its database connection (a transaction with a key)
/// and, with a key, what to store its response under.
pub struct Writing {
    db: db::Write,
    keyed: Option<Keyed>,
}

struct Keyed {
    owner: UserId,
    key: IdempotencyKey,
    fingerprint: Vec<u8>,
    _running: Running,
}

impl Writing {
    /// Runs `write` as `request` asks (conditionally, idempotently), or
    /// answers without running it: a replay, a 409 (the key is in use), a
    /// 422 (the key was used for another request). `body` is the request's
    /// body as canonical JSON, for telling a retry from another request.
    pub async fn run<R, T: IntoResponse>(
        state: &AppState,
        owner: &UserId,
        request: &Request,
        headers: &WriteHeaders,
        body: &[u8],
        write: impl AsyncFnOnce(&mut db::Write) -> Result<T, ApiError>,
    ) -> Written<R> {
        // Boxed: this future is kilobytes (the key's claim, the write, the
        // stored answer), and every request's future is as large as the
        // largest operation's, moved several times by poem: inline, it
        // made every read copy it too (bench/results/instructions.md).
        Box::pin(async move {
            match Self::begin(state, owner, request, headers, body).await {
                Ok(mut writing) => {
                    let outcome = write(&mut writing.db).await;
                    let response = writing.finish(outcome).await;
                    if response.status().is_success() {
                        // Committed: this instance's streams of the owner read it now
                        // (others hear of it from the database).
                        state.live.hub.wake(owner.as_str());
                    }
                    response.into()
                }
                Err(answered) => answered.into(),
            }
        })
        .await
    }

    async fn begin(
        state: &AppState,
        owner: &UserId,
        request: &Request,
        headers: &WriteHeaders,
        body: &[u8],
    ) -> Result<Self, Response> {
        let Some(key) = &headers.key else {
            let db = state.db.write().await.map_err(error_response)?;
            return Ok(Self { db, keyed: None });
        };
        let running = Running::claim(&state.idempotency, owner, key)
            .ok_or_else(|| ApiError::KeyInUse.as_response())?;
        let fingerprint = fingerprint(request, headers.if_match.as_deref(), body);
        let mut db = state.db.transaction().await.map_err(error_response)?;
        let kept_since = chrono::Utc::now()
            - chrono::Duration::from_std(state.idempotency.retention).unwrap_or_default();
        let answer = match db::idempotency::claim(&mut db, owner, key, kept_since)
            .await
            .map_err(error_response)?
        {
            Claim::First => {
                return Ok(Self {
                    db,
                    keyed: Some(Keyed {
                        owner: owner.clone(),
                        key: key.clone(),
                        fingerprint,
                        _running: running,
                    }),
                });
            }
            Claim::Running => ApiError::KeyInUse.as_response(),
            Claim::Answered(outcome) if outcome.fingerprint != fingerprint => {
                ApiError::Invalid(ValidationError(vec![FieldError::new(
                    "Idempotency-Key",
                    "was already used for a different request (another method, path, If-Match \
                     or body) in the last IDEMPOTENCY_RETENTION_HOURS: use a new key for a new \
                     request",
                )]))
                .as_response()
            }
            Claim::Answered(outcome) => replay(outcome),
        };
        // Nothing was written: the connection goes back to the pool (a
        // failed ROLLBACK closes it instead, which rolls back too).
        let _ = db.rollback().await;
        Err(answer)
    }

    /// Ends the write with its outcome: commits it (storing the response
    /// under the key, if any) and returns the response to send.
    async fn finish<T: IntoResponse>(mut self, outcome: Result<T, ApiError>) -> Response {
        let response = match outcome {
            Ok(done) => done.into_response(),
            Err(err) => err.as_response(),
        };
        if response.status().is_server_error() {
            // Dropped: the transaction rolls back.
            return response;
        }
        let response = match self.keyed.take() {
            None => response,
            Some(keyed) => {
                let (parts, body) = response.into_parts();
                let Ok(body) = body.into_vec().await else {
                    return ApiError::Internal.as_response();
                };
                let outcome = Outcome {
                    fingerprint: keyed.fingerprint,
                    status: parts.status.as_u16(),
                    headers: parts
                        .headers
                        .iter()
                        .filter_map(|(name, value)| {
                            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                        })
                        .collect(),
                    body: body.clone(),
                };
                if let Err(err) =
                    db::idempotency::save(&mut self.db, &keyed.owner, &keyed.key, &outcome).await
                {
                    return error_response(err);
                }
                Response::from_parts(parts, Body::from(body))
            }
        };
        match self.db.commit().await {
            Ok(()) => response,
            Err(err) => error_response(err),
        }
    }
}

fn error_response(err: DbError) -> Response {
    ApiError::from(err).as_response()
}

/// SHA-256 of what makes two requests the same request: method, path,
/// `If-Match` and the body as canonical JSON.
fn fingerprint(request: &Request, if_match: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [
        request.method().as_str().as_bytes(),
        request.uri().path().as_bytes(),
        if_match.unwrap_or("").as_bytes(),
        body,
    ] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    context.finish().as_ref().to_vec()
}

/// The stored response again, marked as a replay.
fn replay(outcome: Outcome) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK))
        .body(outcome.body);
    let headers = response.headers_mut();
    for (name, value) in outcome.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// A write's response, fresh or replayed, typed by the responses `R` it
/// documents (each gains the optional `Idempotent-Replayed` header).
pub struct Written<R>(pub Response, PhantomData<R>);

impl<R> From<Response> for Written<R> {
    fn from(response: Response) -> Self {
        Self(response, PhantomData)
    }
}

impl<R: Send> IntoResponse for Written<R> {
    fn into_response(self) -> Response {
        self.0
    }
}

impl<R: ApiResponse> ApiResponse for Written<R> {
    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        for response in &mut meta.responses {
            response.headers.push(MetaHeader {
                name: "Idempotent-Replayed".to_owned(),
                description: Some(
                    "`true` when this is the stored response to an earlier request with the \
                     same `Idempotency-Key`, sent again; absent otherwise."
                        .to_owned(),
                ),
                required: false,
                deprecated: false,
                schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("boolean"))),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }
}

/// For routes that take no `If-Match`: one sent anyway is a 422, not a
/// condition silently ignored (the client meant its write to be conditional).
pub struct NoIfMatch;

impl<'a> FromRequest<'a> for NoIfMatch {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        if req.headers().contains_key(poem::http::header::IF_MATCH) {
            return Err(ApiError::Invalid(ValidationError(vec![FieldError::new(
                "If-Match",
                "is not taken by this route: only PUT, PATCH …/complete and DELETE of a task \
                 and POST …/restore are conditional",
            )]))
            .into());
        }
        Ok(Self)
    }
}
