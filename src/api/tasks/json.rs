//! Tasks as responses show them: every field, always present, `null` where
//! empty, with the contract's example.

use poem_openapi::Object;

use super::{PriorityName, RepeatFromName};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::{
    api::schema::{BodySize, Nullable, TagList, Timestamp, write_digits},
    domain::{Due, Recurrence, Reminder, Tags, Task},
};

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
    priority: PriorityName,
    /// Normalised (trimmed, NFC, lower case), sorted by code point.
    tags: TagList,
    /// When the task is due; `null` when it has no due date. For a recurring
    /// task, the current occurrence.
    due: Nullable<DueJson>,
    /// How the task repeats; `null` for a one-off task.
    recurrence: Nullable<RecurrenceJson>,
    /// Its reminders, each with the instant it is for.
    reminders: Vec<ReminderJson>,
    /// When the task was created (RFC 3339, UTC).
    created_at: Timestamp,
    /// When the task last changed (RFC 3339, UTC); equals `created_at` until then.
    updated_at: Timestamp,
    /// The user's change number of the task's last write: it grows with every
    /// change (create, update, completion, trash, restore), and its `ETag` is this
    /// number in quotes. `0` for a task not written since the server gained versions.
    version: i64,
    /// When the task was moved to the trash (RFC 3339, UTC); `null` unless it is
    /// in the trash, so only the trash listing shows a date here.
    trashed_at: Nullable<Timestamp>,
}

impl From<Task> for TaskJson {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            user_id: task.user_id.into_string(),
            title: task.title,
            description: Nullable(task.description),
            completed: task.completed,
            priority: task.priority.into(),
            tags: TagList(task.tags),
            reminders: task
                .reminders
                .as_slice()
                .iter()
                .filter_map(|reminder| ReminderJson::of(*reminder, task.due.as_ref()))
                .collect(),
            due: Nullable(task.due.map(DueJson::from)),
            recurrence: Nullable(task.recurrence.map(RecurrenceJson::from)),
            created_at: Timestamp(task.created_at),
            updated_at: Timestamp(task.updated_at),
            version: task.version,
            trashed_at: Nullable(task.trashed_at.map(Timestamp)),
        }
    }
}

impl BodySize for TaskJson {
    fn body_size(&self) -> usize {
        // Keys, punctuation, id, version and three timestamps take about 230 bytes.
        260 + self.user_id.len()
            + self.title.len()
            + self.description.0.as_ref().map_or(0, String::len)
            + 2 * self.tags.0.as_column().len()
            + self.due.0.as_ref().map_or(0, |_| 130)
            + self.recurrence.0.as_ref().map_or(0, |r| r.rrule.len() + 40)
            + self.reminders.len() * 60
    }
}

/// A recurring task's rule, as stored (upper case, no `RRULE:` prefix).
#[derive(Object, serde::Serialize)]
#[oai(rename = "TaskRecurrence")]
pub struct RecurrenceJson {
    /// The RFC 5545 RRULE (without DTSTART: the due is the start).
    rrule: String,
    /// What the next occurrence is counted from.
    repeat_from: RepeatFromName,
}

impl From<Recurrence> for RecurrenceJson {
    fn from(recurrence: Recurrence) -> Self {
        Self {
            rrule: recurrence.rule().to_owned(),
            repeat_from: recurrence.repeat_from.into(),
        }
    }
}

/// A reminder as responses show it.
#[derive(Object, serde::Serialize)]
#[oai(rename = "TaskReminder")]
pub struct ReminderJson {
    /// How long before the due's instant (ISO 8601 duration, `PT15M`); `null`
    /// for a reminder set at an instant.
    before: Nullable<String>,
    /// The instant the reminder is for (RFC 3339, UTC).
    at: Timestamp,
}

impl ReminderJson {
    /// A reminder at an instant.
    pub fn at(moment: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            before: Nullable(None),
            at: Timestamp(moment),
        }
    }

    pub fn of(reminder: Reminder, due: Option<&Due>) -> Option<Self> {
        Some(Self {
            before: Nullable(match reminder {
                Reminder::Before(before) => Some(Reminder::duration_text(before)),
                Reminder::At(_) => None,
            }),
            at: Timestamp(reminder.moment(due)?),
        })
    }
}

/// A due date as every response shows it: all four keys, always.
#[derive(Object, serde::Serialize)]
#[oai(rename = "TaskDue")]
pub struct DueJson {
    /// The local date (`YYYY-MM-DD`): the all-day date, or the date of `datetime`.
    date: String,
    /// The wall-clock time in `time_zone` (`YYYY-MM-DDTHH:MM:SS`, normalised
    /// across DST gaps); `null` when all day.
    datetime: Nullable<String>,
    /// The IANA time zone of `datetime`; `null` when all day.
    time_zone: Nullable<String>,
    /// The instant `datetime` is in `time_zone` (RFC 3339, UTC); `null` when all day.
    at: Nullable<Timestamp>,
}

impl BodySize for DueJson {
    fn body_size(&self) -> usize {
        130
    }
}

impl From<Due> for DueJson {
    fn from(due: Due) -> Self {
        match due {
            Due::AllDay(date) => Self {
                date: date_text(date),
                datetime: Nullable(None),
                time_zone: Nullable(None),
                at: Nullable(None),
            },
            Due::At { local, zone, at } => Self {
                date: date_text(local.date()),
                datetime: Nullable(Some(wall_clock_text(local))),
                time_zone: Nullable(Some(zone.name().to_owned())),
                at: Nullable(Some(Timestamp(at))),
            },
        }
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
            priority: PriorityName::High,
            tags: TagList(
                Tags::new(vec!["errands".to_owned(), "home".to_owned()]).expect("valid tags"),
            ),
            due: Nullable(Some(DueJson {
                date: "2026-12-01".to_owned(),
                datetime: Nullable(Some("2026-12-01T09:00:00".to_owned())),
                time_zone: Nullable(Some("Europe/Berlin".to_owned())),
                at: Nullable(Some(Timestamp(
                    chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
                        .expect("a valid example date")
                        .to_utc(),
                ))),
            })),
            // Tuesdays, as 2026-12-01 is. Not `null`: a validator reads the
            // `allOf` beside `nullable` strictly and rejects a null example.
            recurrence: Nullable(Some(RecurrenceJson {
                rrule: "FREQ=WEEKLY;BYDAY=TU".to_owned(),
                repeat_from: RepeatFromName::Due,
            })),
            reminders: vec![ReminderJson {
                before: Nullable(Some("PT15M".to_owned())),
                at: Timestamp(
                    chrono::DateTime::parse_from_rfc3339("2026-12-01T07:45:00Z")
                        .expect("a valid example date")
                        .to_utc(),
                ),
            }],
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
            version: 7,
            trashed_at: Nullable(None),
        }
    }
}

/// `YYYY-MM-DD`, digit by digit (chrono's `format` was most of a due date's
/// cost in a listing). Due dates have four-digit years.
fn date_text(date: NaiveDate) -> String {
    let mut text = *b"0000-00-00";
    write_date(&mut text, date);
    String::from_utf8_lossy(&text).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SS`.
fn wall_clock_text(local: NaiveDateTime) -> String {
    let mut text = *b"0000-00-00T00:00:00";
    write_date(&mut text, local.date());
    for (range, value) in [
        (11..13, local.hour()),
        (14..16, local.minute()),
        (17..19, local.second().min(59)),
    ] {
        write_digits(&mut text[range], value);
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn write_date(text: &mut [u8], date: NaiveDate) {
    let year = u32::try_from(date.year()).unwrap_or(0).min(9999);
    for (range, value) in [(0..4, year), (5..7, date.month()), (8..10, date.day())] {
        write_digits(&mut text[range], value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_wall_clock_times_are_written_as_chrono_would() {
        for text in [
            "1900-01-01T00:00:00",
            "2026-03-08T03:30:00",
            "2999-12-31T23:59:59",
        ] {
            let local: NaiveDateTime = text.parse().unwrap();
            assert_eq!(wall_clock_text(local), text);
            assert_eq!(
                date_text(local.date()),
                local.format("%Y-%m-%d").to_string()
            );
        }
    }
}
