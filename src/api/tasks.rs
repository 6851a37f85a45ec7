//! The task routes. Each handler is: authorised owner in, one query, JSON out.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, param::Query};

use super::{
    ApiTags, AppState,
    payload::{JsonBody, TaskCompletion, TaskCreate, TaskUpdate},
    problem::{ApiError, ErrorSet, statuses::*},
    schema::{BodySize, FastJson, Nullable, Timestamp},
    security::TaskOwner,
};
use crate::{
    db,
    domain::{self, ListQuery, Task, TaskChanges},
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

/// A task, as every operation returns it.
#[derive(Object, serde::Serialize)]
#[oai(rename = "Task", example)]
pub struct TaskJson {
    /// Assigned by the server.
    id: i64,
    /// The owner: the subject of the token that created it.
    user_id: String,
    title: String,
    description: Nullable<String>,
    completed: bool,
    /// When the task was created (RFC 3339, UTC).
    created_at: Timestamp,
    /// When the task last changed (RFC 3339, UTC); equals `created_at` until then.
    updated_at: Timestamp,
}

impl From<Task> for TaskJson {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            user_id: task.user_id.into_string(),
            title: task.title,
            description: Nullable(task.description),
            completed: task.completed,
            created_at: Timestamp(task.created_at),
            updated_at: Timestamp(task.updated_at),
        }
    }
}

impl BodySize for TaskJson {
    fn body_size(&self) -> usize {
        // Keys, punctuation, id and two timestamps take about 150 bytes.
        160 + self.user_id.len()
            + self.title.len()
            + self.description.0.as_ref().map_or(0, String::len)
    }
}

impl poem_openapi::types::Example for TaskJson {
    fn example() -> Self {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T09:30:00.123456Z")
            .expect("a valid example date")
            .to_utc();
        Self {
            id: 42,
            user_id: "kX9vQ2mN7pL4rT8wY1zB3cD5fG6hJ0aS".to_owned(),
            title: "Buy milk".to_owned(),
            description: Nullable(Some("2 litres, semi-skimmed".to_owned())),
            completed: false,
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
        }
    }
}

#[derive(Enum, Clone, Copy)]
#[oai(rename = "TaskStatusFilter", rename_all = "lowercase")]
enum StatusParam {
    All,
    Pending,
    Completed,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename = "TaskSortKey", rename_all = "lowercase")]
enum SortParam {
    Created,
    Updated,
    Title,
}

#[derive(Enum, Clone, Copy)]
#[oai(rename = "SortOrder", rename_all = "lowercase")]
enum OrderParam {
    Asc,
    Desc,
}

#[derive(ApiResponse)]
enum TaskList {
    /// The user's tasks, possibly none.
    #[oai(status = 200)]
    Ok(FastJson<Vec<TaskJson>>),
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
    /// Returns all of the user's tasks as a bare JSON array (no paging envelope),
    /// filtered by `status` and ordered by `sort` and `order`; ties are broken by `id`
    /// in the same direction, so the order is stable.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "list_tasks"
    )]
    async fn list(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        /// The user's id (Better Auth's user id): must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// Which tasks to return: `all` (default), `pending` or `completed`.
        status: Query<Option<StatusParam>>,
        /// The sort key: `created` (default), `updated` or `title` (by code point).
        sort: Query<Option<SortParam>>,
        /// `asc` or `desc`. Defaults to `desc` for dates (newest first) and `asc` for `title`.
        order: Query<Option<OrderParam>>,
    ) -> Result<TaskList, ErrorSet<LIST>> {
        let query = ListQuery::new(
            match status.0.unwrap_or(StatusParam::All) {
                StatusParam::All => domain::StatusFilter::All,
                StatusParam::Pending => domain::StatusFilter::Pending,
                StatusParam::Completed => domain::StatusFilter::Completed,
            },
            match sort.0.unwrap_or(SortParam::Created) {
                SortParam::Created => domain::SortKey::Created,
                SortParam::Updated => domain::SortKey::Updated,
                SortParam::Title => domain::SortKey::Title,
            },
            order.0.map(|order| match order {
                OrderParam::Asc => domain::SortOrder::Asc,
                OrderParam::Desc => domain::SortOrder::Desc,
            }),
        );
        let tasks = db::tasks::list(&state.db, &owner.0, query).await?;
        Ok(TaskList::Ok(FastJson(
            tasks.into_iter().map(TaskJson::from).collect(),
        )))
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
