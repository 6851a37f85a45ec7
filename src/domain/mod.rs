//! Plain Rust types and rules: no web framework, no database.

pub mod change;
pub mod conditional;
mod cursor;
pub mod due;
mod listing;
pub mod recurrence;
pub mod reminder;
mod schedule;
mod tags;
mod task;

use std::fmt;

pub use change::{Change, ChangeKind, FeedRefusal, Since};
pub use conditional::{EntityTags, IdempotencyKey, Precondition, task_etag};
pub use due::Due;
pub use listing::{
    DueBound, DueCondition, DueWindow, LIMIT_MAX, ListParams, ListQuery, OFFSET_MAX,
    SEARCH_MAX_CHARS, SORT_KEYS_MAX, SortKey, SortOrder, SortValue, Start, StatusFilter,
    parse_bound, sort_value,
};
pub use recurrence::{Recurrence, RepeatFrom, Series};
pub use reminder::{Reminder, Reminders};
pub use schedule::{Completion, Schedule};
pub use tags::{Priority, TAG_MAX_CHARS, TAGS_MAX, Tags, fold, parse_tag};
pub use task::{
    DESCRIPTION_MAX_CHARS, NewTask, TITLE_MAX_CHARS, Task, TaskChanges, TaskDescription, TaskTitle,
    is_invisible,
};

/// The owner of tasks: Better Auth's user id, taken from a verified token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// Longest user id, in bytes of UTF-8: a token whose `sub` is longer is
    /// refused (401), as is one whose `sub` contains NUL (U+0000), which
    /// PostgreSQL's `text` cannot store.
    ///
    /// Better Auth's ids are 32 characters, and other issuers' (`auth0|…`,
    /// UUIDs, e-mail addresses, at most 254 bytes) fit too. Without a bound, a
    /// `sub` of a few KiB (tokens may be up to 8 KiB) overflowed PostgreSQL's
    /// B-tree entries on the owner indexes, and creating a task failed with a
    /// 500; 255 bytes plus a 200-character title stay far below that limit.
    pub const MAX_BYTES: usize = 255;

    /// Only the token verifier makes these, from a `sub` it has checked.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Every problem found in one request, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {}", .0.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationError(pub Vec<FieldError>);

/// Problems found so far in one request, reported together as one
/// [`ValidationError`] (a 422 lists them all).
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// The value, or `None` with its problem noted.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.0.push(err)).ok()
    }

    /// The same, for a check that says only what is wrong with `field`.
    pub fn check_field<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        self.check(result.map_err(|message| FieldError::new(field, message)))
    }

    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value()` when nothing was wrong, else every problem.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ValidationError(self.0))
        }
    }
}
