//! The tools' arguments and results, as their JSON Schemas show them.
//!
//! An argument struct is only read for the tool's own arguments (`task_id`,
//! `idempotency_key`, …): deserialising it checks the types and refuses
//! unknown names, and the rest of the arguments go on, as they came, as the
//! REST body; so most of its fields are never read here (`dead_code`).

use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Priority {
    None,
    Low,
    Medium,
    High,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum StatusFilter {
    All,
    Pending,
    Completed,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum DueWindow {
    Overdue,
    Today,
    Week,
    None,
    Any,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum RepeatFrom {
    Due,
    Completion,
}

/// When the task is due: `{"date": "2026-12-24"}` (all day) or
/// `{"datetime": "2026-12-24T09:00", "time_zone": "Europe/Berlin"}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct Due {
    /// All-day date, `YYYY-MM-DD`.
    pub(super) date: Option<String>,
    /// `YYYY-MM-DDTHH:MM[:SS]`, wall clock; with `Z` or `±HH:MM` an instant.
    pub(super) datetime: Option<String>,
    /// IANA time zone name, e.g. `Europe/Berlin`; required with a `datetime` without offset.
    pub(super) time_zone: Option<String>,
}

/// How the task repeats (it needs a `due`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct Recurrence {
    /// An RFC 5545 RRULE without DTSTART, e.g. `FREQ=WEEKLY;BYDAY=MO,TH`.
    pub(super) rrule: String,
    /// Count the next occurrence from the `due` (default) or from completion.
    pub(super) repeat_from: Option<RepeatFrom>,
}

/// A reminder: `{"before": "PT15M"}` (before the due) or `{"at": "2026-12-24T08:00:00Z"}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct Reminder {
    /// An ISO 8601 duration before the due's instant, e.g. `PT15M`, `P1D`.
    pub(super) before: Option<String>,
    /// An RFC 3339 instant.
    pub(super) at: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct AddTask {
    /// The signed-in user's id: must be the subject of the bearer token.
    pub(super) user_id: String,
    /// 1–200 characters.
    pub(super) title: String,
    /// Up to 1000 characters.
    pub(super) description: Option<String>,
    /// Default `none`.
    pub(super) priority: Option<Priority>,
    /// Up to 20 tags, each 1–50 characters; stored trimmed and lower case.
    pub(super) tags: Option<Vec<String>>,
    pub(super) due: Option<Due>,
    pub(super) recurrence: Option<Recurrence>,
    /// Up to 5.
    pub(super) reminders: Option<Vec<Reminder>>,
    /// Makes a retry safe: the same key with the same arguments creates the task
    /// once and answers the first result again. A new key (a UUID) per user action.
    pub(super) idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct ListTasks {
    /// The signed-in user's id: must be the subject of the bearer token.
    pub(super) user_id: String,
    /// `all` (default), `pending` or `completed`.
    pub(super) status: Option<StatusFilter>,
    /// Tasks with any of these priorities.
    pub(super) priority: Option<Vec<Priority>>,
    /// Tasks carrying all of these tags (at most 20).
    pub(super) tags: Option<Vec<String>>,
    /// Relative to today in `tz`: `overdue`, `today`, `week` (today and the next
    /// 6 days), `none` (no due date), `any` (has one).
    pub(super) due: Option<DueWindow>,
    /// The IANA time zone `due`, `due_from` and `due_to` are read in (default UTC).
    pub(super) tz: Option<String>,
    /// Due on or after this date (`2026-12-01`) or RFC 3339 instant.
    pub(super) due_from: Option<String>,
    /// Due before this date or instant (exclusive).
    pub(super) due_to: Option<String>,
    /// Text in the title or description, ignoring case.
    pub(super) search: Option<String>,
    /// Comma-separated `key[:asc|:desc]` (`created`, `updated`, `title`,
    /// `priority`, `due`, `status`), e.g. `due,priority:desc`. Default `created`.
    pub(super) sort: Option<String>,
    /// Most tasks to return, 1–500 (default 50).
    pub(super) limit: Option<u32>,
    /// `next_cursor` of the previous result, to get the page after it (with the
    /// same filters and sort).
    pub(super) cursor: Option<String>,
    /// `true`: also count all matching tasks (`total`).
    pub(super) include_total: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct CompleteTask {
    /// The signed-in user's id: must be the subject of the bearer token.
    pub(super) user_id: String,
    /// The task's id (`task_id` of add_task, `id` in list_tasks).
    pub(super) task_id: i64,
    /// `true` (default) marks it done; `false` reopens it. Completing a recurring
    /// task moves it to its next occurrence instead.
    pub(super) completed: Option<bool>,
    /// The task's `version` as last seen: the change applies only if nobody
    /// changed the task since.
    pub(super) expected_version: Option<i64>,
    /// Makes a retry safe (see add_task).
    pub(super) idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct UpdateTask {
    /// The signed-in user's id: must be the subject of the bearer token.
    pub(super) user_id: String,
    /// The task's id.
    pub(super) task_id: i64,
    /// 1–200 characters.
    pub(super) title: Option<String>,
    /// Up to 1000 characters; `null` clears it.
    pub(super) description: Option<String>,
    pub(super) priority: Option<Priority>,
    /// Replaces the tags; `[]` clears them.
    pub(super) tags: Option<Vec<String>>,
    /// `null` clears it.
    pub(super) due: Option<Due>,
    /// `null` makes the task a one-off.
    pub(super) recurrence: Option<Recurrence>,
    /// Replaces the reminders; `[]` clears them.
    pub(super) reminders: Option<Vec<Reminder>>,
    /// The task's `version` as last seen: the change applies only if nobody
    /// changed the task since.
    pub(super) expected_version: Option<i64>,
    /// Makes a retry safe (see add_task).
    pub(super) idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct DeleteTask {
    /// The signed-in user's id: must be the subject of the bearer token.
    pub(super) user_id: String,
    /// The task's id.
    pub(super) task_id: i64,
    /// The task's `version` as last seen: deleted only if nobody changed it since.
    pub(super) expected_version: Option<i64>,
    /// Makes a retry safe (see add_task).
    pub(super) idempotency_key: Option<String>,
}

/// What happened to one task.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Done {
    Created,
    Updated,
    Completed,
    Reopened,
    Deleted,
}

/// The result of a write to one task.
#[derive(Serialize, JsonSchema)]
pub(super) struct TaskResult {
    pub(super) task_id: i64,
    pub(super) status: Done,
    /// The task's title (`null` only for a replayed delete of a task since purged).
    pub(super) title: Option<String>,
    /// The task as the REST API returns it (the contract's `Task`); `null` after a delete.
    pub(super) task: Option<Map<String, Value>>,
    /// `true` when this is the stored result of an earlier call with the same
    /// `idempotency_key`: nothing changed this time.
    pub(super) replayed: bool,
}

/// A page of tasks.
#[derive(Serialize, JsonSchema)]
pub(super) struct TaskPage {
    /// The tasks, each as the REST API returns it (the contract's `Task`).
    pub(super) tasks: Vec<Map<String, Value>>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub(super) next_cursor: Option<String>,
    /// All matching tasks, when `include_total` was `true`.
    pub(super) total: Option<u64>,
}
