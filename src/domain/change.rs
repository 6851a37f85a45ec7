//! The change feed's terms: what happened to a task, under which change
//! number, and where a reader of the feed stands.

use chrono::{DateTime, Utc};

use super::Task;

/// What a change did to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Completed,
    Uncompleted,
    Trashed,
    Restored,
    /// Deleted for good: the feed shows only the task's id.
    Purged,
    /// One of its reminders fired (the task itself did not change).
    Reminder,
}

impl ChangeKind {
    pub const ALL: [Self; 8] = [
        Self::Created,
        Self::Updated,
        Self::Completed,
        Self::Uncompleted,
        Self::Trashed,
        Self::Restored,
        Self::Purged,
        Self::Reminder,
    ];

    /// The name the database stores and the feed shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Completed => "completed",
            Self::Uncompleted => "uncompleted",
            Self::Trashed => "trashed",
            Self::Restored => "restored",
            Self::Purged => "purged",
            Self::Reminder => "reminder",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One change of one task: the task as it was right after it (right before
/// it, for a purge).
#[derive(Debug, Clone)]
pub struct Change {
    /// The owner's change number; in a snapshot, the task's version.
    pub seq: i64,
    pub kind: ChangeKind,
    pub at: DateTime<Utc>,
    pub task: Task,
    /// For a `reminder`: the moment the reminder was set for.
    pub reminder: Option<DateTime<Utc>>,
}

/// Where a reader of the feed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Reading the snapshot (the current tasks, by version then id), past the
    /// task at this (version, id) when it is not the first page.
    Snapshot(Option<(i64, i64)>),
    /// Reading the changes after this change number.
    After(i64),
}

impl Since {
    /// The position a request names: `since` (0 for the snapshot), and with
    /// 0 the snapshot's `after` from a `Link`. `None` for an `after` that
    /// is not one of ours or comes without `since=0`.
    pub fn from_query(since: i64, after: Option<&str>) -> Option<Self> {
        match (since, after) {
            (0, None) => Some(Self::Snapshot(None)),
            (0, Some(after)) => {
                let (version, id) = after.split_once('.')?;
                Some(Self::Snapshot(Some((
                    change_number(version)?,
                    change_number(id)?,
                ))))
            }
            (since, None) if since > 0 => Some(Self::After(since)),
            _ => None,
        }
    }

    /// The snapshot's `after` parameter for a `Link`, e.g. `12.345`.
    pub fn after_param(version: i64, id: i64) -> String {
        format!("{version}.{id}")
    }
}

/// A change number (or version, or id) as the feed writes one: ASCII digits
/// only, no sign, no spaces, within `i64`.
pub fn change_number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Why a feed cannot be read from where its reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedRefusal {
    /// The changes after that number were partly deleted (they are kept
    /// `TRASH_RETENTION_DAYS`): start again from 0.
    Gone { kept_after: i64 },
    /// That number has not been reached yet.
    Ahead { latest: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChangeKind::parse("snoozed"), None);
    }

    #[test]
    fn positions_come_from_since_and_the_snapshots_after() {
        assert_eq!(Since::from_query(0, None), Some(Since::Snapshot(None)));
        assert_eq!(
            Since::from_query(0, Some("12.345")),
            Some(Since::Snapshot(Some((12, 345))))
        );
        assert_eq!(Since::from_query(7, None), Some(Since::After(7)));
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1.2.3",
            "-1.2",
            "1.+2",
            "a.b",
            "99999999999999999999.1",
        ] {
            assert_eq!(Since::from_query(0, Some(bad)), None, "{bad:?}");
        }
        assert_eq!(Since::from_query(7, Some("1.2")), None);
        assert_eq!(Since::from_query(-1, None), None);
        assert_eq!(Since::after_param(12, 345), "12.345");
    }
}
