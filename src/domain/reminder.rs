//! Reminders: a duration before a task's timed due, or an instant.
//!
//! A task keeps at most [`REMINDERS_MAX`]; the next moment one of them is
//! for is stored beside them (`remind_at`), and the reminder poller fires
//! that moment once, then moves it on. A reminder whose moment has already
//! passed when its task is written is not fired (it is in the past, not
//! pending), and one of a task that is done or in the trash when its moment
//! comes is skipped.

use chrono::{DateTime, Duration, Utc};

use super::{Due, due::parse_datetime};

pub const REMINDERS_MAX: usize = 5;
/// Longest time before the due a reminder may be, in days.
pub const BEFORE_MAX_DAYS: i64 = 366;

/// One reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// This long before the due's instant (moves with the due).
    Before(Duration),
    /// At this instant.
    At(DateTime<Utc>),
}

impl Reminder {
    /// An ISO 8601 duration of weeks, days, hours, minutes and seconds
    /// (`PT15M`, `P1D`, `P1W`): years and months have no fixed length.
    pub fn before(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!(
                "{text:?} is not an ISO 8601 duration such as \"PT15M\", \"PT1H30M\" or \"P1D\" \
                 (weeks, days, hours, minutes, seconds; no years or months)"
            )
        };
        if text.len() > 40 || !text.starts_with('P') || text.ends_with(['P', 'T']) {
            return Err(wrong());
        }
        let seconds = match iso8601::duration(text).map_err(|_| wrong())? {
            iso8601::Duration::Weeks(weeks) => i64::from(weeks) * 7 * 86_400,
            iso8601::Duration::YMDHMS {
                year: 0,
                month: 0,
                day,
                hour,
                minute,
                second,
                millisecond: 0,
            } => {
                ((i64::from(day) * 24 + i64::from(hour)) * 60 + i64::from(minute)) * 60
                    + i64::from(second)
            }
            _ => return Err(wrong()),
        };
        if seconds > BEFORE_MAX_DAYS * 86_400 {
            return Err(format!(
                "must be at most {BEFORE_MAX_DAYS} days (P{BEFORE_MAX_DAYS}D)"
            ));
        }
        Ok(Self::Before(Duration::seconds(seconds)))
    }

    /// An RFC 3339 instant with `Z` or an offset, to the second.
    pub fn at(text: &str) -> Result<Self, String> {
        match parse_datetime(text)? {
            (local, Some(offset)) => Ok(Self::At(
                (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc(),
            )),
            (_, None) => Err(format!(
                "{text:?} needs Z or an offset (±HH:MM): a reminder is an instant"
            )),
        }
    }

    /// When it is for, with the task's due; `None` for a `Before` without a
    /// timed due (which writes refuse).
    pub fn moment(&self, due: Option<&Due>) -> Option<DateTime<Utc>> {
        match (self, due) {
            (Self::At(at), _) => Some(*at),
            (Self::Before(before), Some(Due::At { at, .. })) => Some(*at - *before),
            (Self::Before(_), _) => None,
        }
    }

    /// The duration as this API writes it: `P1DT2H30M`, `PT0S` for none.
    pub fn duration_text(before: Duration) -> String {
        let total = before.num_seconds();
        let (days, rest) = (total / 86_400, total % 86_400);
        let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
        let mut text = String::from("P");
        if days > 0 {
            text.push_str(&format!("{days}D"));
        }
        if rest > 0 || days == 0 {
            text.push('T');
            for (value, unit) in [(hours, 'H'), (minutes, 'M'), (seconds, 'S')] {
                if value > 0 {
                    text.push_str(&format!("{value}{unit}"));
                }
            }
            if rest == 0 {
                text.push_str("0S");
            }
        }
        text
    }

    fn column_text(&self) -> String {
        match self {
            Self::Before(before) => Self::duration_text(*before),
            Self::At(at) => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// A task's reminders, in the order given, duplicates merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminders(Vec<Reminder>);

impl Reminders {
    pub fn new(items: Vec<Reminder>) -> Result<Self, String> {
        let mut kept: Vec<Reminder> = Vec::with_capacity(items.len());
        for item in items {
            if !kept.contains(&item) {
                kept.push(item);
            }
        }
        if kept.len() > REMINDERS_MAX {
            return Err(format!("must hold at most {REMINDERS_MAX} reminders"));
        }
        Ok(Self(kept))
    }

    pub fn as_slice(&self) -> &[Reminder] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `PT15M,2026-12-01T08:00:00Z`; empty for none.
    pub fn to_column(&self) -> String {
        self.0
            .iter()
            .map(Reminder::column_text)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Back from the column (written by [`Self::to_column`]).
    pub fn from_column(text: &str) -> Self {
        Self(
            text.split(',')
                .filter(|item| !item.is_empty())
                .filter_map(|item| Reminder::before(item).or_else(|_| Reminder::at(item)).ok())
                .collect(),
        )
    }

    /// The index of the first reminder that needs a timed due, when `due`
    /// is not one.
    pub fn needing_a_time(&self, due: Option<&Due>) -> Option<usize> {
        self.0
            .iter()
            .position(|reminder| reminder.moment(due).is_none())
    }

    /// The first moment after `after` that one of them is for.
    pub fn next_after(&self, due: Option<&Due>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .iter()
            .filter_map(|reminder| reminder.moment(due))
            .filter(|moment| *moment > after)
            .min()
    }

    /// The first reminder that is for `moment`, for a `reminder` change.
    pub fn for_moment(&self, due: Option<&Due>, moment: DateTime<Utc>) -> Option<Reminder> {
        self.0
            .iter()
            .copied()
            .find(|reminder| reminder.moment(due) == Some(moment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::due::parse_zone;

    #[test]
    fn durations_are_read_and_written_back_canonically() {
        for (text, canonical) in [
            ("PT15M", "PT15M"),
            ("PT90M", "PT1H30M"),
            ("P1D", "P1D"),
            ("P1W", "P7D"),
            ("P1DT0H", "P1D"),
            ("PT0S", "PT0S"),
            ("P2DT3H4M5S", "P2DT3H4M5S"),
        ] {
            let Reminder::Before(before) = Reminder::before(text).unwrap() else {
                unreachable!()
            };
            assert_eq!(Reminder::duration_text(before), canonical, "{text}");
        }
        for text in ["15M", "P1M", "P1Y", "PT0.5S", "PT", "P367D", "-PT5M", ""] {
            assert!(Reminder::before(text).is_err(), "{text}");
        }
    }

    #[test]
    fn reminders_round_trip_through_the_column_and_merge_duplicates() {
        let reminders = Reminders::new(vec![
            Reminder::before("PT15M").unwrap(),
            Reminder::at("2026-12-01T09:00:00+01:00").unwrap(),
            Reminder::before("PT900S").unwrap(),
        ])
        .unwrap();
        assert_eq!(reminders.to_column(), "PT15M,2026-12-01T08:00:00Z");
        assert_eq!(Reminders::from_column(&reminders.to_column()), reminders);
        assert!(Reminders::new(vec![Reminder::before("PT1M").unwrap(); 1]).is_ok());
        let six = (1..=6)
            .map(|m| Reminder::before(&format!("PT{m}M")).unwrap())
            .collect();
        assert!(Reminders::new(six).is_err());
    }

    #[test]
    fn the_next_moment_moves_with_the_due() {
        let due = Due::wall_clock(
            "2026-12-01T09:00:00".parse().unwrap(),
            parse_zone("Europe/Berlin").unwrap(),
        );
        let reminders = Reminders::new(vec![
            Reminder::before("PT15M").unwrap(),
            Reminder::before("P1D").unwrap(),
        ])
        .unwrap();
        let long_ago = "2020-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            reminders
                .next_after(Some(&due), long_ago)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
        let then = "2026-11-30T08:00:00Z".parse().unwrap();
        assert_eq!(
            reminders.next_after(Some(&due), then).unwrap().to_rfc3339(),
            "2026-12-01T07:45:00+00:00"
        );
        let all_day = Due::AllDay("2026-12-01".parse().unwrap());
        assert_eq!(reminders.needing_a_time(Some(&all_day)), Some(0));
        assert_eq!(reminders.needing_a_time(Some(&due)), None);
    }
}
