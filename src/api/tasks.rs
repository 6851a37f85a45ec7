//! The task routes. Each handler is: authorised owner in, one query, JSON out.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Enum, OpenApi, param::Path, param::Query};

use super::{
    ApiTags, AppState,
    payload::{JsonBody, PriorityName, TaskCompletion, TaskCreate, TaskUpdate},
    problem::{ApiError, ErrorSet, statuses::*},
    schema::FastJson,
    security::TaskOwner,
};
use crate::{
    db,
    domain::{self, ListParams, ListQuery, Start, Task, TaskChanges},
};

/// Statuses each kind of operation can answer with besides its success.
const LIST: u16 = UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE | UNAVAILABLE;
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
const CREATE: u16 = LIST | CONFLICT | BODY;
const ONE_TASK: u16 = LIST | NOT_FOUND;
const CHANGE_ONE_TASK: u16 = ONE_TASK | BODY;

mod json;

pub use json::TaskJson;

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

#[derive(ApiResponse)]
enum TaskList {
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
    ),
}

#[derive(ApiResponse)]
enum OneTask {
    /// The task.
    #[oai(status = 200)]
    Ok(FastJson<TaskJson>),
}

#[derive(ApiResponse)]
enum CreatedTask {
    /// The task was stored.
    #[oai(status = 201)]
    Created(
        FastJson<TaskJson>,
        /// Where the new task can be read.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
enum DeletedTask {
    /// The task is gone.
    #[oai(status = 204)]
    Deleted,
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

fn found(task: Option<Task>) -> Result<OneTask, ApiError> {
    task.map(|task| OneTask::Ok(FastJson(task.into())))
        .ok_or(ApiError::TaskNotFound)
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
    ) -> Result<TaskList, ErrorSet<LIST>> {
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
        let next = page
            .more
            .then(|| next_link(request, &query, &page.tasks))
            .flatten();
        Ok(TaskList::Ok(
            FastJson(page.tasks.into_iter().map(TaskJson::from).collect()),
            next,
            page.total,
        ))
    }

    /// Create a task
    ///
    /// `title` is required; `description` is optional. The task starts not completed.
    /// Answers 201 with the task and its address in `Location`.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "post",
        operation_id = "create_task"
    )]
    async fn create(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        body: JsonBody<TaskCreate>,
    ) -> Result<CreatedTask, ErrorSet<CREATE>> {
        let new_task = body.into_new_task()?;
        let limit = state.max_tasks_per_user;
        let task = db::tasks::create(&state.db, &owner.0, &new_task, limit)
            .await?
            .ok_or_else(|| ApiError::TooManyTasks(limit.unwrap_or(u32::MAX)))?;
        let location = format!(
            "/api/{}/tasks/{}",
            utf8_percent_encode(task.user_id.as_str(), PATH_SEGMENT),
            task.id
        );
        Ok(CreatedTask::Created(FastJson(task.into()), location))
    }

    /// Get one task
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "get",
        operation_id = "get_task"
    )]
    async fn get(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
    ) -> Result<OneTask, ErrorSet<ONE_TASK>> {
        Ok(found(db::tasks::find(&state.db, &owner.0, id.0).await?)?)
    }

    /// Update a task (partial)
    ///
    /// Send only the fields to change: an absent field keeps its value,
    /// `"description": null` clears the description. `updated_at` moves.
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "put",
        operation_id = "update_task"
    )]
    async fn update(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        body: JsonBody<TaskUpdate>,
    ) -> Result<OneTask, ErrorSet<CHANGE_ONE_TASK>> {
        let changes = body.into_changes()?;
        Ok(found(
            db::tasks::update(&state.db, &owner.0, id.0, &changes).await?,
        )?)
    }

    /// Delete a task
    #[oai(
        path = "/api/:user_id/tasks/:id",
        method = "delete",
        operation_id = "delete_task"
    )]
    async fn delete(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
    ) -> Result<DeletedTask, ErrorSet<ONE_TASK>> {
        if db::tasks::delete(&state.db, &owner.0, id.0).await? {
            Ok(DeletedTask::Deleted)
        } else {
            Err(ApiError::TaskNotFound.into())
        }
    }

    /// Toggle or set completion
    ///
    /// Without a body, flips `completed`. With `{"completed": true|false}`, sets it.
    /// Either way `updated_at` moves and the task is returned.
    #[oai(
        path = "/api/:user_id/tasks/:id/complete",
        method = "patch",
        operation_id = "complete_task"
    )]
    async fn complete(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        body: JsonBody<TaskCompletion>,
    ) -> Result<OneTask, ErrorSet<CHANGE_ONE_TASK>> {
        let task = match body.into_completed()? {
            None => db::tasks::toggle(&state.db, &owner.0, id.0).await?,
            Some(completed) => {
                let changes = TaskChanges {
                    completed: Some(completed),
                    ..TaskChanges::default()
                };
                db::tasks::update(&state.db, &owner.0, id.0, &changes).await?
            }
        };
        Ok(found(task)?)
    }
}
