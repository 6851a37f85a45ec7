//! The change feed (`GET /api/{user_id}/changes`) and its live form, the
//! event stream (`GET /api/{user_id}/events`).

use std::time::Duration;

use futures_util::{StreamExt, stream::BoxStream};
use poem::{Request, http::header, web::Data, web::sse::Event};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::EventStream,
};

use super::{
    ApiTags, AppState,
    problem::{ApiError, ErrorSet, statuses::*},
    schema::{FastJson, Timestamp},
    security::TaskOwner,
    tasks::{CACHE_CONTROL, ReminderJson, TaskJson},
};
use crate::{
    db::{self, tasks::FeedPage},
    domain::{
        Change, ChangeKind, FeedRefusal, FieldError, LIMIT_MAX, Reminder, Since, ValidationError,
        change::change_number,
    },
    live,
};

const FEED: u16 = UNAUTHORIZED | RATE_LIMITED | FORBIDDEN | UNPROCESSABLE | GONE | UNAVAILABLE;
const EVENTS: u16 = FEED | TOO_MANY_STREAMS;

/// What a change did to its task.
#[derive(Enum, Clone, Copy, serde::Serialize)]
#[oai(rename = "ChangeType", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum ChangeType {
    Created,
    Updated,
    Completed,
    Uncompleted,
    Trashed,
    Restored,
    Purged,
    Reminder,
}

impl From<ChangeKind> for ChangeType {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Created => Self::Created,
            ChangeKind::Updated => Self::Updated,
            ChangeKind::Completed => Self::Completed,
            ChangeKind::Uncompleted => Self::Uncompleted,
            ChangeKind::Trashed => Self::Trashed,
            ChangeKind::Restored => Self::Restored,
            ChangeKind::Purged => Self::Purged,
            ChangeKind::Reminder => Self::Reminder,
        }
    }
}

/// One change of one of the user's tasks.
#[derive(Object, serde::Serialize)]
#[oai(rename = "Change", example)]
pub struct ChangeJson {
    /// The user's change number: it grows by one with every change of any of
    /// the user's tasks, in the order they were committed. Read on with
    /// `since=<the last seq you applied>`. In a snapshot (`since=0`), the
    /// task's `version`.
    seq: i64,
    /// `created`, `updated`, `completed` (for a recurring task: an occurrence
    /// was completed and `due` moved on), `uncompleted`, `trashed` (moved to
    /// the trash), `restored` (back from it), `purged` (deleted for good) or,
    /// since 1.4, `reminder` (one of the task's reminders is due now; the task
    /// did not change). Clients should pass over types they do not know:
    /// later versions may add more.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    kind: ChangeType,
    /// When the change was written (RFC 3339, UTC, the database's clock). In
    /// a snapshot: when the task last changed, or was trashed.
    at: Timestamp,
    /// The task right after the change (with `trashed_at` set while it is in
    /// the trash). Absent for `purged`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<TaskJson>,
    /// For `purged` only: the id of the task that is gone.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<i64>,
    /// For `reminder` only: the reminder that fired (`at`: the instant it was
    /// for; `at` of the change: when it fired).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    reminder: Option<ReminderJson>,
}

impl poem_openapi::types::Example for ChangeJson {
    fn example() -> Self {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T09:30:00.123456Z")
            .expect("a valid example date")
            .to_utc();
        Self {
            seq: 7,
            kind: ChangeType::Created,
            at: Timestamp(at),
            task: Some(TaskJson::example()),
            task_id: None,
            reminder: None,
        }
    }
}

impl From<Change> for ChangeJson {
    fn from(change: Change) -> Self {
        let purged = change.kind == ChangeKind::Purged;
        let reminder = change.reminder.map(|moment| {
            let due = change.task.due.as_ref();
            let reminder = change
                .task
                .reminders
                .for_moment(due, moment)
                .unwrap_or(Reminder::At(moment));
            ReminderJson::of(reminder, due).unwrap_or_else(|| ReminderJson::at(moment))
        });
        Self {
            reminder,
            seq: change.seq,
            kind: change.kind.into(),
            at: Timestamp(change.at),
            task_id: purged.then_some(change.task.id),
            task: (!purged).then(|| TaskJson::from(change.task)),
        }
    }
}

#[derive(ApiResponse)]
enum ChangeList {
    /// The user's changes after `since`, oldest first, as a bare array; with
    /// `since=0`, a snapshot of the user's tasks (live ones as `created`,
    /// trashed ones as `trashed`).
    #[oai(status = 200)]
    Ok(
        FastJson<Vec<ChangeJson>>,
        /// `<…>; rel="next"` (RFC 8288) while more changes follow, e.g.
        /// `</api/u1/changes?since=120>; rel="next"`; a snapshot's last page
        /// always links to the changes after it.
        #[oai(header = "Link")]
        Option<String>,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

/// The feed's position from `since` and `after`, or the 422 for them.
fn position(since: i64, after: Option<&str>) -> Result<Since, ApiError> {
    Since::from_query(since, after).ok_or_else(|| {
        ApiError::Invalid(ValidationError(vec![FieldError::new(
            "after",
            "is the snapshot's position from a Link header (`<version>.<id>`), and only goes with since=0",
        )]))
    })
}

fn refused(refusal: FeedRefusal, field: &'static str) -> ApiError {
    match refusal {
        FeedRefusal::Gone { .. } => ApiError::Gone,
        FeedRefusal::Ahead { latest } => ApiError::Invalid(ValidationError(vec![FieldError::new(
            field,
            format!(
                "is ahead of the user's last change ({latest}): use a number this feed gave you"
            ),
        )])),
    }
}

/// The `Link` to the page after `page`, when one is due.
fn next_link(
    request: &Request,
    from: Since,
    page: &FeedPage,
    limit: Option<u32>,
) -> Option<String> {
    let query = match (from, page.next) {
        (_, Since::Snapshot(Some((version, id)))) => {
            format!("since=0&after={}", Since::after_param(version, id))
        }
        // A snapshot's last page hands over to the changes after it.
        (Since::Snapshot(_), Since::After(latest)) if latest > 0 => format!("since={latest}"),
        (Since::After(_), Since::After(last)) if page.more => format!("since={last}"),
        _ => return None,
    };
    let limit = limit
        .map(|limit| format!("&limit={limit}"))
        .unwrap_or_default();
    Some(format!(
        "<{}?{query}{limit}>; rel=\"next\"",
        request.uri().path()
    ))
}

pub struct ChangesApi;

#[OpenApi(tag = "ApiTags::Changes")]
impl ChangesApi {
    /// List the user's changes
    ///
    /// Every change of the user's tasks after `since`, in the order they were
    /// committed: created, updated, completed, uncompleted, trashed, restored,
    /// purged. Apply them in order to a copy of the tasks and the copy
    /// matches the server's. Start with `since=0` (the default): a snapshot of
    /// the current tasks, trash included; then follow `Link` (`rel="next"`)
    /// until it is absent, and later ask again with `since` = the last `seq`
    /// you applied. Changes are kept `TRASH_RETENTION_DAYS` (30 by default): a
    /// `since` older than that is 410, start again from 0.
    #[oai(
        path = "/api/:user_id/changes",
        method = "get",
        operation_id = "list_changes"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The last change number the client applied (a `seq`); `0` (the
        /// default) for a snapshot of the current tasks.
        #[oai(validator(minimum(value = "0")))]
        since: Query<Option<i64>>,
        /// Most changes on this page, 1–500 (default 500).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
        /// Where a snapshot's next page starts: copy it from the `Link` header
        /// (only with `since=0`).
        #[oai(validator(max_length = 41))]
        after: Query<Option<String>>,
    ) -> Result<ChangeList, ErrorSet<FEED>> {
        let from = position(since.0.unwrap_or(0), after.0.as_deref())?;
        let page = db::tasks::feed(&state.db, &owner.0, from, limit.0.unwrap_or(LIMIT_MAX))
            .await?
            .map_err(|refusal| refused(refusal, "since"))?;
        let link = next_link(request, from, &page, limit.0);
        Ok(ChangeList::Ok(
            FastJson(page.changes.into_iter().map(ChangeJson::from).collect()),
            link,
            CACHE_CONTROL.to_owned(),
        ))
    }

    /// Stream the user's changes (Server-Sent Events)
    ///
    /// The changes of `GET /api/{user_id}/changes` as they happen, on any
    /// server instance: each is an event whose `id` is its `seq`, whose
    /// `event` is its `type`, and whose `data` is the change as one line of
    /// JSON. Resumes after `Last-Event-ID` (or `since`; `0` begins with a
    /// snapshot), reading what was missed from the database first, without
    /// gaps or duplicates; without either, starts with the next change. A
    /// comment line (`:`) every 15 s keeps proxies from closing it. It ends
    /// when the token expires (reconnect with a fresh one and
    /// `Last-Event-ID`) and when the server shuts down. At most 5 streams per
    /// user on one server (429 beyond). Send the token in `Authorization`
    /// (never in the URL): browsers' `EventSource` cannot, so use `fetch` (the
    /// TypeScript client's `subscribe()` does).
    #[oai(
        path = "/api/:user_id/events",
        method = "get",
        operation_id = "stream_events"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// Where to start when there is no `Last-Event-ID`: the last change
        /// number the client applied, or `0` for a snapshot first.
        #[oai(validator(minimum(value = "0")))]
        since: Query<Option<i64>>,
        /// The `id` of the last event received, sent by a client reconnecting:
        /// the stream resumes after it (and it wins over `since`).
        #[oai(name = "Last-Event-ID", validator(max_length = 20))]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventStream<BoxStream<'static, ChangeJson>>, ErrorSet<EVENTS>> {
        let (from, field) = match (last_event_id.0.as_deref(), since.0) {
            (Some(id), _) => (Some(parse_event_id(id)?), "Last-Event-ID"),
            (None, Some(since)) => (Some(since), "since"),
            (None, None) => (None, "since"),
        };
        let live = &state.live;
        let subscription = live
            .hub
            .subscribe(owner.0.as_str(), live.settings.max_streams_per_user)
            .ok_or(ApiError::TooManyStreams(live.settings.max_streams_per_user))?;
        // Subscribed first: a change committed from here on wakes the stream.
        let start = from.map_or(Since::After(i64::MAX), |from| {
            position(from, None).unwrap_or(Since::After(from))
        });
        let first = match db::tasks::feed(&state.db, &owner.0, start, live::STREAM_PAGE).await? {
            Ok(page) => page,
            // No position given: from the user's last change on.
            Err(FeedRefusal::Ahead { latest }) if from.is_none() => FeedPage {
                changes: Vec::new(),
                next: Since::After(latest),
                more: false,
            },
            Err(refusal) => return Err(refused(refusal, field).into()),
        };
        let ends_at = token_expiry(request);
        let changes = live::stream(
            state.db.clone(),
            owner.0,
            subscription,
            first,
            ends_at,
            live.stop.clone(),
        );
        Ok(EventStream::new(changes.map(ChangeJson::from).boxed())
            .keep_alive(live.settings.keep_alive)
            .to_event(|change| {
                let id = change.seq.to_string();
                // The `type` as the data spells it (serde's name of the variant).
                let kind = match serde_json::to_value(change.kind) {
                    Ok(serde_json::Value::String(kind)) => kind,
                    _ => String::new(),
                };
                let data = serde_json::to_string(&change).unwrap_or_default();
                Event::message(data).id(id).event_type(kind)
            }))
    }
}

impl super::schema::BodySize for ChangeJson {
    fn body_size(&self) -> usize {
        // Keys, punctuation, seq and the timestamp.
        80 + self
            .task
            .as_ref()
            .map_or(0, super::schema::BodySize::body_size)
    }
}

/// A `Last-Event-ID`: one of the stream's own ids, a change number.
fn parse_event_id(id: &str) -> Result<i64, ApiError> {
    change_number(id.trim()).ok_or_else(|| {
        ApiError::Invalid(ValidationError(vec![FieldError::new(
            "Last-Event-ID",
            "must be the id of an event this stream sent (a change number, 0 or more)",
        )]))
    })
}

/// When the request's token expires, as a point on the runtime's clock.
fn token_expiry(request: &Request) -> tokio::time::Instant {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.get(7..))
        .unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    let left = crate::auth::expires_at(token)
        .and_then(|exp| i64::try_from(exp).ok())
        .map_or(0, |exp| exp.saturating_sub(now).max(0));
    tokio::time::Instant::now() + Duration::from_secs(left.unsigned_abs())
}
