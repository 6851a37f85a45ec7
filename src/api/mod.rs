//! The HTTP surface: poem-openapi operations, their JSON types and errors.
//! Never names a diesel type.

mod changes;
pub mod cors;
pub mod docs;
pub mod fast_lane;
mod health;
pub mod operations;
mod payload;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
mod schema;
mod security;
mod tasks;
mod writes;

use std::sync::Arc;

use poem_openapi::{OpenApiService, ServerObject, Tags};

use crate::{auth::TokenVerifier, db::Database, live::Live};

pub use payload::MAX_BODY_BYTES;
pub use schema::FastJson;
pub use tasks::TaskJson;
pub use writes::IdempotencySettings;

/// What every request handler may use: the [`Services`], behind one `Arc`.
/// poem hands each request its own clone (an extension), so a clone is one
/// reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services of one instance, shared by every request.
pub struct Services {
    pub db: Database,
    pub verifier: Arc<TokenVerifier>,
    /// Creating a task beyond this many is refused with 409.
    pub max_tasks_per_user: Option<u32>,
    /// How long outcomes of writes with an `Idempotency-Key` are replayed.
    pub idempotency: IdempotencySettings,
    /// The event streams and what wakes them.
    pub live: Live,
    /// Wakes the reminder poller after a write of a task with reminders.
    pub reminders: crate::server::reminders::ReminderClock,
    /// The instance's rate limits (`RATE_LIMIT_*`).
    pub limits: Arc<rate_limit::RateLimits>,
    /// What `/metrics` renders; `None` when metrics are off (`METRICS_ENABLED=false`).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

#[derive(Tags)]
enum ApiTags {
    /// A user's todo tasks.
    Tasks,
    /// Deleted tasks, until they are restored or purged.
    Trash,
    /// What changed in the user's tasks: a feed to sync a copy, and a live stream.
    Changes,
    /// Liveness and readiness probes.
    Health,
}

/// The version of the contract (`info.version`), not of the crate: it takes a
/// major step on every breaking change.
pub const CONTRACT_VERSION: &str = "1.5.0";

/// The operations, as an OpenAPI service. Needs no state, so the spec can be
/// printed without a database.
pub fn service() -> OpenApiService<
    (
        tasks::TasksApi,
        tasks::OccurrencesApi,
        tasks::TrashApi,
        changes::ChangesApi,
        health::HealthApi,
    ),
    (),
> {
    OpenApiService::new(
        (
            tasks::TasksApi,
            tasks::OccurrencesApi,
            tasks::TrashApi,
            changes::ChangesApi,
            health::HealthApi,
        ),
        "Todo API",
        CONTRACT_VERSION,
    )
    .description(
        "Tasks of the users of a todo app. Every task route is scoped by the user in \
         the path, which must be the subject of the bearer token. Errors are RFC 9457 \
         problem JSON with a human-readable `detail`.\n\n\
         **Safe writes.** Every task carries a `version` (its `ETag`, `\"8\"`). Send it \
         back in `If-Match` to change or delete the task only if nobody changed it since \
         (otherwise 412, with the current `ETag`), or in `If-None-Match` to read it only \
         if it changed (otherwise 304). Send an `Idempotency-Key` (a UUID made per user \
         action) with a write to make retries safe: a retry of the same request gets the \
         first answer again, marked `Idempotent-Replayed: true`, and changes nothing; \
         while the first is still running a retry gets 409 with `Retry-After`; the same key \
         with another request is a 422. `k` and `\"k\"` are the same key. Keys are kept \
         24 hours per user. A deleted task goes to the trash, where it can be restored \
         until it is purged (after 30 days by default).\n\n\
         **Live changes.** `GET /api/{user_id}/changes?since=N` lists every change after \
         change number N in commit order (`since=0`: a snapshot of the current tasks), so \
         a client keeps a copy in sync by applying them; `GET /api/{user_id}/events` \
         streams the same changes as Server-Sent Events as they happen, on any server \
         instance, resuming after `Last-Event-ID`.\n\n\
         **Recurring tasks and reminders.** A task with a `due` may have a `recurrence` \
         (an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=MO,TH`): completing it moves its \
         `due` to the next occurrence in its own time zone, DST-safe, and \
         `GET /api/{user_id}/tasks/{id}/occurrences` previews them. Up to 5 `reminders` \
         (`{\"before\": \"PT15M\"}` or `{\"at\": \"…Z\"}`) fire once each, as `reminder` \
         changes in the feed and on the event stream.\n\n\
         **Fair use.** Each server instance lets a user make `RATE_LIMIT_PER_MINUTE` \
         requests a minute (600 by default) in bursts of `RATE_LIMIT_BURST` (100). Every \
         authenticated response says where the user stands, in the syntax of \
         draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: \"per-user\";q=600;w=60` \
         and `RateLimit: \"per-user\";r=<requests left now>;t=<seconds until the burst is \
         whole again>`; past the limit the answer is 429 with `Retry-After`. Requests \
         that fail authentication are limited per client address \
         (`RATE_LIMIT_FAILURES_PER_MINUTE`, 60). Every response carries an `X-Request-Id` \
         (the request's own, or a new one) that the server's log lines of the request show.",
    )
    .server(
        // Plain text: Swagger UI shows it in a `<select>`, where Markdown stays raw.
        ServerObject::new("/")
            .description("The server that serves this document (same origin as /docs)"),
    )
}

/// The contract as YAML: what `openapi.yaml` must contain, byte for byte.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}
