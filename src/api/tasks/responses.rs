//! What the task routes answer: their response types (with the headers of
//! conditional requests), and what a conditional write that found nothing
//! answers instead.

use poem::{
    IntoResponse, Response,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::ApiResponse;

use super::TaskJson;
use crate::{
    api::{problem::ApiError, schema::FastJson},
    db,
    domain::{self, Task, task_etag},
};

#[derive(ApiResponse)]
pub(super) enum TaskList {
    /// One page of the user's tasks, possibly none.
    #[oai(status = 200)]
    Ok(
        FastJson<Vec<TaskJson>>,
        /// `<…>; rel="next"` (RFC 8288) whenever tasks exist after this page:
        /// a path-absolute reference to the next page, with the same filters
        /// and sort, e.g. `</api/u1/tasks?tag=home&limit=50&cursor=WzEsMTJd.bX4…>; rel="next"`.
        /// Absent on the last page.
        #[oai(header = "Link")]
        Option<String>,
        /// With `include_total=true`: how many tasks match the filters, paging aside
        /// (e.g. `137`).
        #[oai(header = "X-Total-Count")]
        Option<i64>,
        /// A weak entity tag of this answer (`W/"42-1f0c9a3be2d4"`): send it in
        /// `If-None-Match` to get 304 while none of the user's tasks changed.
        /// Absent with `due=overdue|today|week`, whose answer also moves with the clock.
        #[oai(header = "ETag")]
        Option<String>,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// None of the user's tasks changed since the answer whose ETag `If-None-Match` named.
    #[oai(status = 304)]
    NotModified(
        /// The listing's weak entity tag, unchanged.
        #[oai(header = "ETag")]
        String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

/// `Cache-Control` of every task response: a browser may keep it, but must
/// ask (`If-None-Match`) before using it again; no shared cache may keep it.
pub const CACHE_CONTROL: &str = "private, no-cache";

#[derive(ApiResponse)]
pub enum OneTask {
    /// The task.
    #[oai(status = 200)]
    Ok(
        FastJson<TaskJson>,
        /// The task's version as a strong entity tag (`"8"`): send it back in
        /// `If-Match` to change the task only if nobody else has, or in
        /// `If-None-Match` to read it only if it changed.
        #[oai(header = "ETag")]
        String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

impl OneTask {
    pub fn of(task: Task) -> Self {
        let etag = task_etag(task.version);
        Self::Ok(FastJson(task.into()), etag, CACHE_CONTROL.to_owned())
    }
}

#[derive(ApiResponse)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, returned once: boxing would only add an allocation"
)]
pub(in crate::api) enum ReadTask {
    /// The task.
    #[oai(status = 200)]
    Ok(
        FastJson<TaskJson>,
        /// The task's version as a strong entity tag (`"8"`).
        #[oai(header = "ETag")]
        String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The task has not changed: its version is still one `If-None-Match` named.
    #[oai(status = 304)]
    NotModified(
        /// The task's version (`"8"`).
        #[oai(header = "ETag")]
        String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

impl ReadTask {
    /// The response poem-openapi's derived `IntoResponse` makes of this
    /// (headers in the same order), with the header names as constants: the
    /// derived code parses `"ETAG"` and `"CACHE-CONTROL"` on every call, 0.4k
    /// instructions of a fast-lane read (`api/fast_lane.rs`).
    /// tests/api/fast_lane.rs holds the two to the same status, headers and
    /// body, 200 and 304.
    pub(in crate::api) fn render(self) -> Response {
        let (mut response, etag, cache_control) = match self {
            Self::Ok(json, etag, cache_control) => (json.into_response(), etag, cache_control),
            Self::NotModified(etag, cache_control) => (
                StatusCode::NOT_MODIFIED.into_response(),
                etag,
                cache_control,
            ),
        };
        let headers = response.headers_mut();
        // As `ToHeader for String`: a value that is no header value is left out.
        for (name, value) in [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

#[derive(ApiResponse)]
pub(super) enum CreatedTask {
    /// The task was stored.
    #[oai(status = 201)]
    Created(
        FastJson<TaskJson>,
        /// Where the new task can be read.
        #[oai(header = "Location")]
        String,
        /// The new task's version as a strong entity tag (`"1"`).
        #[oai(header = "ETag")]
        String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

#[derive(ApiResponse)]
pub(super) enum TrashedTask {
    /// The task is in the trash: gone from every task route and listing, and
    /// back with `POST …/restore` until it is purged.
    #[oai(status = 204)]
    Trashed(
        /// The trashed task's version (`"9"`): the `If-Match` of a restore.
        #[oai(header = "ETag")]
        String,
    ),
}

/// After a conditional write found nothing: 404 when the task is not there,
/// else 412 with its current version.
pub(super) async fn missing_or_changed(
    write: &mut db::Write,
    owner: &domain::UserId,
    id: i64,
    trashed: bool,
) -> ApiError {
    match db::tasks::version_of(write, owner, id, trashed).await {
        Ok(Some(version)) => ApiError::PreconditionFailed {
            etag: task_etag(version),
        },
        Ok(None) => ApiError::TaskNotFound,
        Err(err) => err.into(),
    }
}

/// What a single-task write returns: the task, or why there is none.
pub(super) async fn written(
    write: &mut db::Write,
    owner: &domain::UserId,
    id: i64,
    precondition: Option<&domain::Precondition>,
    task: Result<Option<Task>, db::tasks::WriteError>,
) -> Result<OneTask, ApiError> {
    match task? {
        Some(task) => Ok(OneTask::of(task)),
        None if precondition.is_some() => Err(missing_or_changed(write, owner, id, false).await),
        None => Err(ApiError::TaskNotFound),
    }
}
