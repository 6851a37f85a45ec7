//! `GET /api/{user_id}/tasks/{id}/occurrences`: where a task's series goes.

use chrono_tz::Tz;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
};

use super::{CACHE_CONTROL, json::DueJson};
use crate::{
    api::{
        ApiTags, AppState,
        problem::{ApiError, ErrorSet, statuses::*},
        schema::FastJson,
        security::TaskOwner,
    },
    db,
    domain::{Due, FieldError, ValidationError, parse_bound, recurrence::OCCURRENCES_MAX},
};

const OCCURRENCES: u16 =
    UNAUTHORIZED | RATE_LIMITED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE | UNAVAILABLE;
/// Occurrences shown without a `limit`.
const DEFAULT_LIMIT: u32 = 10;

#[derive(ApiResponse)]
enum Occurrences {
    /// The task's next occurrences, soonest first, each a due as tasks show
    /// it: the current due first (unless `from` is later), then those the
    /// rule makes after it, until the series ends. A one-off task has its
    /// due alone; a completed one, or one without a due, none.
    #[oai(status = 200)]
    Ok(
        FastJson<Vec<DueJson>>,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

pub struct OccurrencesApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl OccurrencesApi {
    /// Preview a task's occurrences
    ///
    /// Where a recurring task's series goes: its current due, then the next
    /// occurrences of its rule, in its time zone (DST-safe, as completing it
    /// would move it, for `repeat_from: completion` as if each were completed
    /// on its day). At most `limit` (1–100, default 10); `from` (a date, or an
    /// RFC 3339 instant) skips those before it. The preview looks through at
    /// most 10 000 occurrences past the current due.
    #[oai(
        path = "/api/:user_id/tasks/:id/occurrences",
        method = "get",
        operation_id = "list_occurrences"
    )]
    async fn occurrences(
        &self,
        owner: TaskOwner,
        state: Data<&AppState>,
        #[oai(name = "user_id")] _user_id: Path<String>,
        id: Path<i64>,
        /// Only occurrences at or after this: a date (`2027-01-01`, compared
        /// with the occurrence's local date) or an RFC 3339 instant.
        #[oai(validator(max_length = 64))]
        from: Query<Option<String>>,
        /// How many occurrences, 1–100 (default 10).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Occurrences, ErrorSet<OCCURRENCES>> {
        let from = from
            .0
            .as_deref()
            .map(|text| parse_bound(text, Tz::UTC, false))
            .transpose()
            .map_err(|message| ValidationError(vec![FieldError::new("from", message)]))?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT).min(OCCURRENCES_MAX) as usize;
        let (_, schedule) = db::tasks::find_scheduled(&state.db, &owner.0, id.0)
            .await?
            .ok_or(ApiError::TaskNotFound)?;
        let upcoming = match (&schedule.due, &schedule.series) {
            _ if schedule.completed => Vec::new(),
            (Some(due), Some(series)) => series.upcoming(due),
            (Some(due), None) => vec![due.clone()],
            (None, _) => Vec::new(),
        };
        let shown = upcoming
            .into_iter()
            .filter(|due| {
                from.as_ref().is_none_or(|from| match due {
                    Due::AllDay(date) => *date >= from.date,
                    Due::At { at, .. } => *at >= from.at,
                })
            })
            .take(limit)
            .map(DueJson::from)
            .collect();
        Ok(Occurrences::Ok(FastJson(shown), CACHE_CONTROL.to_owned()))
    }
}
