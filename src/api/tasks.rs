//! The task routes. Each handler is: authorised owner in, one query, JSON out.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::{Request, web::Data};
use poem_openapi::{
    Enum, OpenApi,
    param::{Header, Path, Query},
};

use super::{
    ApiTags, AppState,
    payload::{JsonBody, PriorityName, RepeatFromName, TaskCompletion, TaskCreate, TaskUpdate},
    problem::{ApiError, ErrorSet, statuses::*},
    schema::FastJson,
    security::TaskOwner,
    writes::{NoIfMatch, WriteHeaders, Writing, Written, raw_header},
};
use crate::{
    db,
    domain::{self, EntityTags, ListParams, ListQuery, Start, Task, TaskChanges, task_etag},
};

/// Statuses each kind of operation can answer with besides its success.
const LIST: u16 = UNAUTHORIZED | RATE_LIMITED | FORBIDDEN | UNPROCESSABLE | UNAVAILABLE;
/// What RFC 3986 §3.3 requires escaping in a path segment: everything but
/// `pchar` (unreserved, sub-delims, `:` and `@`). A user id like
/// `demo-user` stays readable in `Location`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Operations that read a body can also time out while receiving it.
const BODY: u16 = REQUEST_TIMEOUT | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE;
const CREATE: u16 = LIST | CONFLICT | KEY_IN_USE | BODY;
const ONE_TASK: u16 = LIST | NOT_FOUND;
/// A write to one task: conditional, idempotent.
pub const DELETE_ONE_TASK: u16 = ONE_TASK | PRECONDITION_FAILED | KEY_IN_USE;
const CHANGE_ONE_TASK: u16 = DELETE_ONE_TASK | BODY;

mod json;
mod occurrences;
mod responses;
mod trash;

pub(super) use responses::ReadTask;
pub use responses::{CACHE_CONTROL, OneTask};
use responses::{CreatedTask, TaskList, TrashedTask, missing_or_changed, written};

pub use occurrences::OccurrencesApi;
pub use trash::TrashApi;

pub use json::{ReminderJson, TaskJson};

#[derive(Enum, Clone, Copy)]
#[oai(rename = "TaskStatusFilter", rename_all = "lowercase")]
enum StatusParam {
    All,
    Pending,
    Completed,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename = "TaskDueWindow", rename_all = "lowercase")]
enum DueParam {
    Overdue,
    Today,
    Week,
    None,
    Any,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename = "SortOrder", rename_all = "lowercase")]
enum OrderParam {
    Asc,
    Desc,
}

/// The weak ETag of a listing, unless its answer depends on the clock
/// (`due=overdue|today|week`): the same change number then does not mean
/// the same tasks.
///
/// An empty page has no change number to show (no row carried it): its tag
/// says "empty" instead, with the total when asked for, which is all such a
/// page shows and stays true while the page stays empty.
fn list_etag(request: &Request, page: &db::tasks::Page) -> String {
    let query = request.uri().query().unwrap_or("");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, query.as_bytes());
    let state = match (page.latest_change, page.total) {
        (Some(latest), _) => latest.to_string(),
        (None, Some(total)) => format!("empty{total}"),
        (None, None) => "empty".to_owned(),
    };
    format!(
        "W/\"{}\"",
        domain::conditional::list_etag_opaque(&state, digest.as_ref())
    )
}

/// The `Link` to the page after `tasks`: this request's own path and
/// parameters, with its `cursor` or `offset` moved on.
fn next_link(request: &Request, query: &ListQuery, tasks: &[Task]) -> Option<String> {
    let next = match query.start {
        Start::Offset(offset) => format!("offset={}", u64::from(offset) + tasks.len() as u64),
        _ => format!("cursor={}", query.cursor_after(tasks.last()?)),
    };
    let mut target = request.uri().path().to_owned();
    let kept = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !name.is_empty() && name != "cursor" && name != "offset"
        });
    let mut separator = '?';
    for pair in kept.chain(std::iter::once(next.as_str())) {
        target.push(separator);
        target.push_str(pair);
        separator = '&';
    }
    Some(format!("<{target}>; rel=\"next\""))
}

/// Tasks of one user. Every route needs a bearer token whose subject is the `user_id` in the path.
pub struct TasksApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List the user's tasks
    ///
    /// A page of the user's tasks as a bare JSON array (no envelope), at most
    /// `limit` (default and maximum 500). Filters combine with AND. When more
    /// tasks follow, the `Link` header (`rel="next"`) gives the next page's
    /// address; follow it until it is absent. `include_total=true` adds the
    /// count of all matching tasks in `X-Total-Count`.
    ///
    /// Example: `?status=pending&tag=home&priority=high&priority=medium&due=week&tz=Europe/Berlin&sort=due,priority:desc&limit=50`.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "list_tasks"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id (Better Auth's user id): must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// Which tasks to return: `all` (default), `pending` or `completed`.
        status: Query<Option<StatusParam>>,
        /// Repeatable: tasks with any of these priorities (`?priority=high&priority=medium`).
        #[oai(default)]
        priority: Query<Vec<PriorityName>>,
        /// Repeatable, at most 20: tasks carrying all of these tags (normalised as
        /// stored tags are: `Home` finds `home`).
        #[oai(default, validator(max_items = 20))]
        tag: Query<Vec<String>>,
        /// Tasks by due date, relative to today in `tz`: `overdue` (timed: due before now;
        /// all day: before today), `today`, `week` (today and the 6 days after), `none`
        /// (no due date), `any` (has one). `overdue` includes completed tasks: add
        /// `status=pending` for what is still to do.
        due: Query<Option<DueParam>>,
        /// The IANA time zone that `due` and date-only `due_from`/`due_to` are read in
        /// (default `UTC`), e.g. `Europe/Berlin`.
        #[oai(validator(max_length = 64))]
        tz: Query<Option<String>>,
        /// Due on or after this: a date (`2026-12-01`, from its start in `tz`) or an
        /// RFC 3339 instant (`2026-12-01T09:00:00Z`). All-day tasks compare by date.
        due_from: Query<Option<String>>,
        /// Due before this (exclusive), in the same forms as `due_from`.
        due_to: Query<Option<String>>,
        /// Tasks whose title or description contains this text, ignoring case (Unicode
        /// lower case, NFC), e.g. `milk`. `%`, `_` and `\` match themselves. Surrounding
        /// whitespace is trimmed; empty means no filter.
        #[oai(validator(max_length = 200))]
        search: Query<Option<String>>,
        /// Comma-separated `key[:asc|:desc]`, at most 4 keys: `created`, `updated`,
        /// `title` (by code point), `priority`, `due`, `status` (`created_at` and
        /// `updated_at` are aliases). A bare key takes its natural direction: dates
        /// newest first, title A→Z, priority high first, due soonest first (by local
        /// date, all-day before timed, then by instant; tasks without a due date last
        /// in either direction), status pending first. `id` breaks remaining ties in
        /// the first key's direction. Default `created`. Example: `priority,due:desc`.
        #[oai(validator(max_length = 200))]
        sort: Query<Option<String>>,
        /// The direction of a single bare `sort` key (v1): `asc` or `desc`.
        order: Query<Option<OrderParam>>,
        /// Most tasks on this page, 1–500 (default 500), e.g. `50`.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
        /// Where the page starts: only ever taken from a `Link` header. Bound to the
        /// filters and sort it came with (422 otherwise).
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
        /// Tasks to skip, 0–100000, for page-number UIs (not together with `cursor`):
        /// page 3 of 50 is `limit=50&offset=100`.
        #[oai(validator(minimum(value = "0"), maximum(value = "100000")))]
        offset: Query<Option<u32>>,
        /// `true`: the total number of matching tasks comes in `X-Total-Count`
        /// (costs a count of them).
        include_total: Query<Option<bool>>,
        /// The `ETag` of an earlier answer to the same request (`W/"42-1f0c9a3be2d4"`):
        /// 304 while none of the user's tasks changed since.
        #[oai(name = "If-None-Match")]
        _if_none_match: Header<Option<String>>,
        _if_match: NoIfMatch,
    ) -> Result<TaskList, ErrorSet<LIST>> {
        let if_none_match = parse_if_none_match(request);
        let clock_bound = matches!(
            due.0,
            Some(DueParam::Overdue | DueParam::Today | DueParam::Week)
        );
        let query = ListParams {
            status: match status.0.unwrap_or(StatusParam::All) {
                StatusParam::All => domain::StatusFilter::All,
                StatusParam::Pending => domain::StatusFilter::Pending,
                StatusParam::Completed => domain::StatusFilter::Completed,
            },
            priorities: priority.0.into_iter().map(Into::into).collect(),
            tags: &tag.0,
            due: due.0.map(|due| match due {
                DueParam::Overdue => domain::DueWindow::Overdue,
                DueParam::Today => domain::DueWindow::Today,
                DueParam::Week => domain::DueWindow::Week,
                DueParam::None => domain::DueWindow::None,
                DueParam::Any => domain::DueWindow::Any,
            }),
            tz: tz.0.as_deref(),
            due_from: due_from.0.as_deref(),
            due_to: due_to.0.as_deref(),
            search: search.0.as_deref(),
            sort: sort.0.as_deref(),
            order: order.0.map(|order| match order {
                OrderParam::Asc => domain::SortOrder::Asc,
                OrderParam::Desc => domain::SortOrder::Desc,
            }),
            limit: limit.0,
            cursor: cursor.0.as_deref(),
            offset: offset.0,
            include_total: include_total.0.unwrap_or(false),
        }
        .resolve(chrono::Utc::now())?;
        let page = db::tasks::list(&state.db, &owner.0, &query).await?;
        let etag = (!clock_bound).then(|| list_etag(request, &page));
        if let (Some(etag), Some(tags)) = (&etag, &if_none_match)
            && tags.matches_weakly(opaque(etag))
        {
            return Ok(TaskList::NotModified(
                etag.clone(),
                CACHE_CONTROL.to_owned(),
            ));
        }
        let next = page
            .more
            .then(|| next_link(request, &query, &page.tasks))
            .flatten();
        Ok(TaskList::Ok(
            FastJson(page.tasks.into_iter().map(TaskJson::from).collect()),
            next,
            page.total,
            etag,
            CACHE_CONTROL.to_owned(),
        ))
    }

    /// Create a task
    ///
    /// `title` is required; `description` is optional. The task starts not completed.
    /// Answers 201 with the task, its address in `Location` and its version in `ETag`.
    /// With an `Idempotency-Key`, a retry of the same request creates nothing more
    /// and gets the first answer again.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "post",
        operation_id = "create_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// Makes retries safe (see "Safe writes" in the API description): a key made per user action, e.g.
        /// `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
        _if_match: NoIfMatch,
        body: JsonBody<TaskCreate>,
    ) -> Result<Written<CreatedTask>, ErrorSet<CREATE>> {
        let headers = WriteHeaders::of(request, false)?;
        let canonical = body.canonical();
        let new_task = body.into_new_task()?;
        let schedule = domain::Schedule::new(&new_task, chrono::Utc::now())?;
        let limit = state.max_tasks_per_user;
        let reminded = AtomicBool::new(false);
        let create = async |db: &mut db::Write| {
            let task = db::tasks::create(db, &owner.0, &new_task, &schedule, limit)
                .await?
                .ok_or_else(|| ApiError::TooManyTasks(limit.unwrap_or(u32::MAX)))?;
            reminded.store(!task.reminders.is_empty(), Relaxed);
            let location = format!(
                "/api/{}/tasks/{}",
                utf8_percent_encode(task.user_id.as_str(), PATH_SEGMENT),
                task.id
            );
            let etag = task_etag(task.version);
            Ok(CreatedTask::Created(
                FastJson(task.into()),
                location,
                etag,
                CACHE_CONTROL.to_owned(),
            ))
        };
        let written = Writing::run(&state, &owner.0, request, &headers, &canonical, create).await;
        wake_reminders(&state, &reminded);
        Ok(written)
    }

    /// Get one task
    ///
    /// With `If-None-Match` naming the task's current `ETag`: 304, no body.
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "get",
        operation_id = "get_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn get(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` of the copy the client holds (`"8"`): 304 while it is current.
        #[oai(name = "If-None-Match")]
        _if_none_match: Header<Option<String>>,
        _if_match: NoIfMatch,
    ) -> Result<ReadTask, ErrorSet<ONE_TASK>> {
        read_task(&state, &owner.0, id.0, request).await
    }

    /// Update a task (partial)
    ///
    /// Send only the fields to change: an absent field keeps its value,
    /// `"description": null` clears the description. `updated_at` moves.
    /// With `If-Match`, only if the task is still at that version (else 412).
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "put",
        operation_id = "update_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the change was made from (`"8"`), or `*`: applied only if the
        /// task is still at that version, else 412.
        #[oai(
            name = "If-Match",
            validator(
                pattern = r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#
            )
        )]
        _if_match: Header<Option<String>>,
        /// Makes retries safe, e.g. `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<TaskUpdate>,
    ) -> Result<Written<OneTask>, ErrorSet<CHANGE_ONE_TASK>> {
        let headers = WriteHeaders::of(request, true)?;
        let canonical = body.canonical();
        let changes = body.into_changes()?;
        let precondition = headers.precondition.as_ref();
        let reminded = AtomicBool::new(false);
        let update = async |db: &mut db::Write| {
            let task = db::tasks::update(db, &owner.0, id.0, &changes, precondition).await;
            note_reminders(&reminded, &task);
            written(db, &owner.0, id.0, precondition, task).await
        };
        let written = Writing::run(&state, &owner.0, request, &headers, &canonical, update).await;
        wake_reminders(&state, &reminded);
        Ok(written)
    }

    /// Delete a task (to the trash)
    ///
    /// Moves the task to the trash: it is gone from every task route and listing
    /// (404), listed by `GET /api/{user_id}/trash` and restorable with
    /// `POST /api/{user_id}/tasks/{id}/restore` until it is purged, by the user or
    /// automatically after the server's retention period (30 days by default).
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "delete",
        operation_id = "delete_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn delete(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the client saw (`"8"`), or `*`: deleted only if the task is
        /// still at that version, else 412.
        #[oai(
            name = "If-Match",
            validator(
                pattern = r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#
            )
        )]
        _if_match: Header<Option<String>>,
        /// Makes retries safe, e.g. `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
    ) -> Result<Written<TrashedTask>, ErrorSet<DELETE_ONE_TASK>> {
        let headers = WriteHeaders::of(request, true)?;
        let precondition = headers.precondition.as_ref();
        let trash =
            async |db: &mut db::Write| match db::tasks::trash(db, &owner.0, id.0, precondition)
                .await?
            {
                Some(version) => Ok(TrashedTask::Trashed(task_etag(version))),
                None if precondition.is_some() => {
                    Err(missing_or_changed(db, &owner.0, id.0, false).await)
                }
                None => Err(ApiError::TaskNotFound),
            };
        Ok(Writing::run(&state, &owner.0, request, &headers, &[], trash).await)
    }

    /// Toggle or set completion
    ///
    /// Without a body, flips `completed`. With `{"completed": true|false}`, sets it.
    /// Either way `updated_at` moves and the task is returned. With `If-Match`,
    /// only if the task is still at that version (else 412): a double-clicked
    /// toggle sent with the version it was clicked on cannot undo itself.
    #[oai(
        path = "/api/:user_id/tasks/:id/complete",
        method = "patch",
        operation_id = "complete_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn complete(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the client saw (`"8"`), or `*`: applied only if the task is
        /// still at that version, else 412.
        #[oai(
            name = "If-Match",
            validator(
                pattern = r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#
            )
        )]
        _if_match: Header<Option<String>>,
        /// Makes retries safe, e.g. `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<TaskCompletion>,
    ) -> Result<Written<OneTask>, ErrorSet<CHANGE_ONE_TASK>> {
        let headers = WriteHeaders::of(request, true)?;
        let canonical = body.canonical();
        let completed = body.into_completed()?;
        let precondition = headers.precondition.as_ref();
        let reminded = AtomicBool::new(false);
        let complete = async |db: &mut db::Write| {
            let task = match completed {
                None => db::tasks::toggle(db, &owner.0, id.0, precondition).await,
                Some(completed) => {
                    let changes = TaskChanges {
                        completed: Some(completed),
                        ..TaskChanges::default()
                    };
                    db::tasks::update(db, &owner.0, id.0, &changes, precondition).await
                }
            };
            note_reminders(&reminded, &task);
            written(db, &owner.0, id.0, precondition, task).await
        };
        let written = Writing::run(&state, &owner.0, request, &headers, &canonical, complete).await;
        wake_reminders(&state, &reminded);
        Ok(written)
    }
}

/// `If-None-Match`, parsed. A malformed one is ignored: the full answer is
/// never wrong for a read, unlike a write that ignored a malformed `If-Match`.
/// Notes whether the task written has reminders: its next one may be sooner
/// than the poller's next look.
fn note_reminders(reminded: &AtomicBool, task: &Result<Option<Task>, db::tasks::WriteError>) {
    if let Ok(Some(task)) = task {
        reminded.store(!task.reminders.is_empty(), Relaxed);
    }
}

/// After the write committed (the poller must see it when it looks).
fn wake_reminders(state: &AppState, reminded: &AtomicBool) {
    if reminded.load(Relaxed) {
        state.reminders.reminders_changed();
    }
}

/// The body of `get_task`, which the fast lane (`api::fast_lane`) also runs.
pub(super) async fn read_task(
    state: &AppState,
    owner: &domain::UserId,
    id: i64,
    request: &Request,
) -> Result<ReadTask, ErrorSet<ONE_TASK>> {
    let if_none_match = parse_if_none_match(request);
    let task = db::tasks::find(&state.db, owner, id)
        .await?
        .ok_or(ApiError::TaskNotFound)?;
    let etag = task_etag(task.version);
    if if_none_match.is_some_and(|tags| tags.matches_weakly(opaque(&etag))) {
        return Ok(ReadTask::NotModified(etag, CACHE_CONTROL.to_owned()));
    }
    Ok(ReadTask::Ok(
        FastJson(task.into()),
        etag,
        CACHE_CONTROL.to_owned(),
    ))
}

fn parse_if_none_match(request: &Request) -> Option<EntityTags> {
    raw_header(request, poem::http::header::IF_NONE_MATCH)
        .and_then(|value| EntityTags::parse(&value).ok())
}

/// An entity tag's opaque part: `W/"5-ab"` → `5-ab`.
fn opaque(etag: &str) -> &str {
    etag.trim_start_matches("W/").trim_matches('"')
}
