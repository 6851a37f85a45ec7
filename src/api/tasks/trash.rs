//! The trash routes: list what is in it, restore a task, purge one, empty it.
//! (`DELETE /api/{user_id}/tasks/{id}` puts a task there: see `tasks.rs`.)

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
};

use super::{
    CACHE_CONTROL, DELETE_ONE_TASK, NoIfMatch, OneTask, TaskJson, WriteHeaders, Writing, Written,
    missing_or_changed,
};
use crate::{
    api::{
        ApiTags, AppState,
        problem::{ApiError, ErrorSet, statuses::*},
        schema::FastJson,
        security::TaskOwner,
    },
    db,
};

const LIST: u16 = UNAUTHORIZED | RATE_LIMITED | FORBIDDEN | UNPROCESSABLE | UNAVAILABLE;
const PURGE: u16 = LIST | NOT_FOUND | KEY_IN_USE;
const EMPTY: u16 = LIST | KEY_IN_USE;

#[derive(ApiResponse)]
enum TrashList {
    /// A page of the user's trash, most recently trashed first, each task with
    /// its `trashed_at`.
    #[oai(status = 200)]
    Ok(
        FastJson<Vec<TaskJson>>,
        /// `<…>; rel="next"` (RFC 8288) while more trashed tasks follow, e.g.
        /// `</api/u1/trash?limit=50&offset=50>; rel="next"`.
        #[oai(header = "Link")]
        Option<String>,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

#[derive(ApiResponse)]
enum Purged {
    /// Deleted for good.
    #[oai(status = 204)]
    Purged,
}

pub struct TrashApi;

#[OpenApi(tag = "ApiTags::Trash")]
impl TrashApi {
    /// List the trash
    ///
    /// The user's deleted tasks, most recently trashed first, until they are
    /// restored or purged (by the user, or by the server after its retention
    /// period: 30 days by default). Pages like the task list: `limit`, `offset`,
    /// and a `Link` header (`rel="next"`) while more follow.
    #[oai(
        path = "/api/:user_id/trash",
        method = "get",
        operation_id = "list_trash"
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
        /// Most tasks on this page, 1–500 (default 500), e.g. `50`.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
        /// Tasks to skip, 0–100000: page 3 of 50 is `limit=50&offset=100`.
        #[oai(validator(minimum(value = "0"), maximum(value = "100000")))]
        offset: Query<Option<u32>>,
        _if_match: NoIfMatch,
    ) -> Result<TrashList, ErrorSet<LIST>> {
        let limit = limit.0.unwrap_or(crate::domain::LIMIT_MAX);
        let offset = offset.0.unwrap_or(0);
        let (tasks, more) = db::tasks::list_trash(&state.db, &owner.0, limit, offset).await?;
        let next = more.then(|| {
            format!(
                "<{}?limit={limit}&offset={}>; rel=\"next\"",
                request.uri().path(),
                u64::from(offset) + tasks.len() as u64
            )
        });
        Ok(TrashList::Ok(
            FastJson(tasks.into_iter().map(TaskJson::from).collect()),
            next,
            CACHE_CONTROL.to_owned(),
        ))
    }

    /// Restore a task from the trash
    ///
    /// Brings a trashed task back, as it was, and returns it (with a new
    /// version). With `If-Match`: only if it is still at that version (the `ETag`
    /// its DELETE answered with), else 412.
    #[oai(
        path = "/api/:user_id/tasks/:id/restore",
        method = "post",
        operation_id = "restore_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn restore(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// The trashed task's `ETag` (`"9"`), or `*`: restored only if it is still at
        /// that version, else 412.
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
    ) -> Result<Written<OneTask>, ErrorSet<DELETE_ONE_TASK>> {
        let headers = WriteHeaders::of(request, true)?;
        let precondition = headers.precondition.as_ref();
        let restore =
            async |db: &mut db::Write| match db::tasks::restore(db, &owner.0, id.0, precondition)
                .await?
            {
                Some(task) => Ok(OneTask::of(task)),
                None if precondition.is_some() => {
                    Err(missing_or_changed(db, &owner.0, id.0, true).await)
                }
                None => Err(ApiError::TaskNotFound),
            };
        Ok(Writing::run(&state, &owner.0, request, &headers, &[], restore).await)
    }

    /// Purge a task from the trash
    ///
    /// Deletes a trashed task for good. A task that is not in the trash is 404:
    /// delete it first.
    #[oai(
        path = "/api/:user_id/trash/:id",
        method = "delete",
        operation_id = "purge_task"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn purge(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// The task's id.
        id: Path<i64>,
        /// Makes retries safe, e.g. `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
        _if_match: NoIfMatch,
    ) -> Result<Written<Purged>, ErrorSet<PURGE>> {
        let headers = WriteHeaders::of(request, false)?;
        let purge = async |db: &mut db::Write| match db::tasks::purge(db, &owner.0, id.0).await? {
            true => Ok(Purged::Purged),
            false => Err(ApiError::TaskNotFound),
        };
        Ok(Writing::run(&state, &owner.0, request, &headers, &[], purge).await)
    }

    /// Empty the trash
    ///
    /// Deletes every task in the user's trash for good.
    #[oai(
        path = "/api/:user_id/trash",
        method = "delete",
        operation_id = "empty_trash"
    )]
    async fn empty(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        request: &Request,
        /// The user's id: must equal the token's subject.
        #[oai(name = "user_id")]
        _user_id: Path<String>,
        /// Makes retries safe, e.g. `5b0f3e52-8c1d-4c8e-9f57-2f4d1c6a9e10`.
        #[oai(
            name = "Idempotency-Key",
            validator(pattern = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#)
        )]
        _idempotency_key: Header<Option<String>>,
        _if_match: NoIfMatch,
    ) -> Result<Written<Purged>, ErrorSet<EMPTY>> {
        let headers = WriteHeaders::of(request, false)?;
        let empty = async |db: &mut db::Write| {
            db::tasks::empty_trash(db, &owner.0).await?;
            Ok(Purged::Purged)
        };
        Ok(Writing::run(&state, &owner.0, request, &headers, &[], empty).await)
    }
}
