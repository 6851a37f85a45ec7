//! Recurring tasks: RFC 5545 rules, expanded by the `rrule` crate in the
//! task's own wall-clock time, so 09:00 stays 09:00 across DST.
//!
//! A rule is expanded in "floating" time: the series' start is a wall-clock
//! time handed to the crate as if it were UTC (which has no DST), and each
//! occurrence the crate makes is read back as a wall-clock time in the
//! task's zone through [`Due::wall_clock`], with RFC 5545's rules for gaps and
//! overlaps. `COUNT` and `UNTIL` are the server's: `COUNT` counts completed
//! occurrences, and an `UNTIL` in UTC is first turned into the zone's wall
//! clock. Every expansion is bounded: the crate stops after 100 000 empty
//! periods (a rule that never occurs), and no caller looks through more
//! than [`SCAN_MAX`] occurrences.

use std::{collections::HashSet, str::FromStr};

use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

use super::Due;

/// Longest rule, in characters.
pub const RULE_MAX_CHARS: usize = 256;
pub const INTERVAL_MAX: u32 = 999;
pub const COUNT_MAX: u32 = 1000;
/// `UNTIL` at most this many years after the due.
pub const UNTIL_MAX_YEARS: u32 = 10;
/// Most occurrences a preview returns.
pub const OCCURRENCES_MAX: u32 = 100;
/// Most occurrences any expansion looks through (27 years of a daily rule).
pub const SCAN_MAX: usize = 10_000;

/// The parts of a rule this API takes besides `FREQ`.
const PARTS: [&str; 10] = [
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYSETPOS",
    "WKST",
];

/// What the next occurrence is counted from when one is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatFrom {
    /// The next occurrence of the rule after the current due.
    Due,
    /// The first occurrence after the day it was completed, at the same time.
    Completion,
}

impl RepeatFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Completion => "completion",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Due, Self::Completion]
            .into_iter()
            .find(|from| from.as_str() == name)
    }
}

/// A rule as accepted: upper case, without an `RRULE:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    rule: String,
    pub repeat_from: RepeatFrom,
}

/// When a series ends, as `UNTIL` says it.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// The last day (all of it).
    Date(NaiveDate),
    /// A wall-clock time in the task's zone.
    Local(NaiveDateTime),
    /// An instant (`Z`).
    Instant(DateTime<Utc>),
}

/// A rule split into what the crate expands and what the server counts.
struct Rule {
    expand: RRule<Unvalidated>,
    count: Option<u32>,
    until: Option<Until>,
}

impl Recurrence {
    /// The rule's own checks (those that need the due are [`Series::start`]'s).
    pub fn parse(text: &str, repeat_from: RepeatFrom) -> Result<Self, String> {
        if text.chars().count() > RULE_MAX_CHARS {
            return Err(format!("must be at most {RULE_MAX_CHARS} characters"));
        }
        let upper = text.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
        if let Some(bad) = body
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "=;,+-".contains(*c)))
        {
            return Err(format!(
                "must be one RRULE such as \"FREQ=WEEKLY;BYDAY=MO,TH\" (letters, digits and = ; , + - only; {bad:?} is not one of them)"
            ));
        }
        let mut seen = HashSet::new();
        let mut freq = false;
        for part in body.split(';') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not a NAME=VALUE rule part"))?;
            if !seen.insert(key) {
                return Err(format!("{key} appears twice"));
            }
            match key {
                "FREQ" => {
                    freq = true;
                    check_freq(value)?;
                }
                "INTERVAL" => check_number(key, value, INTERVAL_MAX)?,
                "COUNT" => check_number(key, value, COUNT_MAX)?,
                "UNTIL" => {
                    parse_until(value)?;
                }
                "DTSTART" => {
                    return Err("takes no DTSTART: the task's due is the series' start".into());
                }
                "BYHOUR" | "BYMINUTE" | "BYSECOND" => {
                    return Err(format!(
                        "takes no {key}: the time of day is the due's, and a task repeats at most daily"
                    ));
                }
                _ if PARTS.contains(&key) => {}
                _ => {
                    return Err(format!(
                        "{key} is not a rule part this API takes (FREQ, {})",
                        PARTS.join(", ")
                    ));
                }
            }
        }
        if !freq {
            return Err("needs a FREQ: DAILY, WEEKLY, MONTHLY or YEARLY".into());
        }
        let recurrence = Self {
            rule: body.to_owned(),
            repeat_from,
        };
        // The crate's own checks (BYWEEKNO only with YEARLY, BYDAY=5MO with
        // WEEKLY, ranges): against any start, they do not depend on it.
        let rule = recurrence.split()?;
        rule.expand
            .validate(floating(start_probe()))
            .map_err(|err| format!("is not a valid rule: {err}"))?;
        Ok(recurrence)
    }

    /// Back from the stored rule, which was accepted before.
    pub fn from_column(rule: &str, repeat_from: &str) -> Option<Self> {
        Some(Self {
            rule: rule.to_owned(),
            repeat_from: RepeatFrom::parse(repeat_from)?,
        })
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    fn split(&self) -> Result<Rule, String> {
        let mut count = None;
        let mut until = None;
        let mut rest = Vec::new();
        for part in self.rule.split(';') {
            match part.split_once('=') {
                Some(("COUNT", value)) => count = value.parse().ok(),
                Some(("UNTIL", value)) => until = Some(parse_until(value)?),
                _ => rest.push(part),
            }
        }
        let expand = RRule::from_str(&rest.join(";"))
            .map_err(|err| format!("is not a valid rule: {err}"))?;
        Ok(Rule {
            expand,
            count,
            until,
        })
    }
}

fn start_probe() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .expect("a valid date")
        .and_time(NaiveTime::MIN)
}

fn check_freq(value: &str) -> Result<(), String> {
    match value {
        "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY" => Ok(()),
        "HOURLY" | "MINUTELY" | "SECONDLY" => Err(format!(
            "FREQ={value} repeats more often than daily: use DAILY, WEEKLY, MONTHLY or YEARLY"
        )),
        _ => Err(format!(
            "FREQ={value} is not a frequency: use DAILY, WEEKLY, MONTHLY or YEARLY"
        )),
    }
}

fn check_number(key: &str, value: &str, max: u32) -> Result<(), String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) && !value.starts_with('+') => Ok(()),
        _ => Err(format!("{key} must be a whole number from 1 to {max}")),
    }
}

/// `YYYYMMDD`, `YYYYMMDDTHHMMSS` or `YYYYMMDDTHHMMSSZ`.
fn parse_until(value: &str) -> Result<Until, String> {
    let wrong = || {
        format!(
            "UNTIL={value} is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally followed by Z)"
        )
    };
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    match value.len() {
        8 if digits(value) => NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(Until::Date)
            .map_err(|_| wrong()),
        15 | 16 if digits(&value[..8]) && &value[8..9] == "T" && digits(&value[9..15]) => {
            let local = NaiveDateTime::parse_from_str(&value[..15], "%Y%m%dT%H%M%S")
                .map_err(|_| wrong())?;
            match &value[15..] {
                "" => Ok(Until::Local(local)),
                "Z" => Ok(Until::Instant(local.and_utc())),
                _ => Err(wrong()),
            }
        }
        _ => Err(wrong()),
    }
}

/// A wall-clock time as the crate's "UTC": floating time without DST.
fn floating(local: NaiveDateTime) -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&local)
}

/// The zone wall-clock times are in (UTC for an all-day due).
fn zone_of(due: &Due) -> Tz {
    match due {
        Due::AllDay(_) => Tz::UTC,
        Due::At { zone, .. } => *zone,
    }
}

impl Rule {
    /// The last wall-clock time an occurrence may have.
    fn until_local(&self, zone: Tz) -> Option<NaiveDateTime> {
        self.until.map(|until| match until {
            Until::Date(date) => date.and_hms_opt(23, 59, 59).expect("a valid time"),
            Until::Local(local) => local,
            Until::Instant(at) => at.with_timezone(&zone).naive_local(),
        })
    }

    /// The rule's occurrences from `start` (which counts as the first, as
    /// RFC 5545 has it, only when the rule makes it), as wall-clock times,
    /// up to `UNTIL`; at most [`SCAN_MAX`].
    fn occurrences(
        &self,
        start: NaiveDateTime,
        zone: Tz,
    ) -> impl Iterator<Item = NaiveDateTime> + use<> {
        let until = self.until_local(zone);
        let set = self
            .expand
            .clone()
            .validate(floating(start))
            .ok()
            .map(|rule| RRuleSet::new(floating(start)).rrule(rule).limit());
        set.as_ref()
            .map(|set| set.into_iter())
            .into_iter()
            .flatten()
            .map(|at| at.naive_utc())
            .take_while(move |local| until.is_none_or(|until| *local <= until))
            .take(SCAN_MAX)
    }
}

/// A recurring task's series: its rule, the wall-clock time of its current
/// occurrence as the rule made it (before DST normalisation, so a 02:30
/// that a DST gap moved to 03:30 is still 02:30 the next day), and how many
/// occurrences have been completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub recurrence: Recurrence,
    pub anchor: NaiveDateTime,
    pub done: u32,
}

/// What completing an occurrence does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// The task moves on to this due.
    Next { due: Due, series: Series },
    /// That was the last occurrence: the task is done for good.
    Ended,
}

/// The due an occurrence makes, of the same kind as `like`.
fn occurrence_due(local: NaiveDateTime, like: &Due) -> Due {
    match like {
        Due::AllDay(_) => Due::AllDay(local.date()),
        Due::At { zone, .. } => Due::wall_clock(local, *zone),
    }
}

/// Whether `a` comes strictly after `b` (by instant, or by date all day).
fn after(a: &Due, b: &Due) -> bool {
    match (a, b) {
        (Due::At { at: a, .. }, Due::At { at: b, .. }) => a > b,
        _ => a.date() > b.date(),
    }
}

impl Series {
    /// The series a task starts when its rule or its due is set. `Err` says
    /// why the rule cannot be the due's: it ends too late, or it has no
    /// occurrence after the due.
    pub fn start(recurrence: Recurrence, due: &Due) -> Result<Self, String> {
        let anchor = match due {
            Due::AllDay(date) => date.and_time(NaiveTime::MIN),
            Due::At { local, .. } => *local,
        };
        let series = Self {
            recurrence,
            anchor,
            done: 0,
        };
        let rule = series.recurrence.split()?;
        if let Some(until) = rule.until_local(zone_of(due)) {
            let latest = due.date() + Months::new(12 * UNTIL_MAX_YEARS);
            if until.date() > latest {
                return Err(format!(
                    "UNTIL must be at most {UNTIL_MAX_YEARS} years after the due (by {latest})"
                ));
            }
        }
        if series.next_after(&rule, due).is_none() {
            return Err(
                "has no occurrence after the due: the task would never repeat (check UNTIL, COUNT and the BY… parts)"
                    .into(),
            );
        }
        Ok(series)
    }

    /// The first occurrence strictly after `due`, with its wall-clock time.
    fn next_after(&self, rule: &Rule, due: &Due) -> Option<(Due, NaiveDateTime)> {
        if rule.count.is_some_and(|count| self.done + 1 >= count) {
            return None;
        }
        rule.occurrences(self.anchor, zone_of(due))
            .map(|local| (occurrence_due(local, due), local))
            .find(|(next, _)| after(next, due))
    }

    /// Completing the occurrence due at `due`, at `now`.
    pub fn advance(&self, due: &Due, now: DateTime<Utc>) -> Advance {
        let Ok(rule) = self.recurrence.split() else {
            return Advance::Ended;
        };
        let next = match self.recurrence.repeat_from {
            RepeatFrom::Due => self.next_after(&rule, due),
            RepeatFrom::Completion => {
                let zone = zone_of(due);
                let day = now.with_timezone(&zone).date_naive();
                if rule.count.is_some_and(|count| self.done + 1 >= count) {
                    None
                } else {
                    rule.occurrences(day.and_time(self.anchor.time()), zone)
                        .find(|local| local.date() > day)
                        .map(|local| (occurrence_due(local, due), local))
                }
            }
        };
        match next {
            Some((due, anchor)) => Advance::Next {
                due,
                series: Self {
                    recurrence: self.recurrence.clone(),
                    anchor,
                    done: self.done + 1,
                },
            },
            None => Advance::Ended,
        }
    }

    /// The series' occurrences from the current one (`due`) on, as if each
    /// were completed on its day; at most [`SCAN_MAX`] are looked through.
    pub fn upcoming(&self, due: &Due) -> Vec<Due> {
        let Ok(rule) = self.recurrence.split() else {
            return vec![due.clone()];
        };
        let left = rule
            .count
            .map_or(usize::MAX, |count| count.saturating_sub(self.done) as usize);
        std::iter::once(due.clone())
            .chain(
                rule.occurrences(self.anchor, zone_of(due))
                    .map(|local| occurrence_due(local, due))
                    .filter(|next| after(next, due)),
            )
            .take(left.max(1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::due::{parse_date, parse_zone};

    fn rule(text: &str) -> Recurrence {
        Recurrence::parse(text, RepeatFrom::Due).unwrap()
    }

    fn at(local: &str, zone: &str) -> Due {
        let (local, _) = crate::domain::due::parse_datetime(local).unwrap();
        Due::wall_clock(local, parse_zone(zone).unwrap())
    }

    fn day(date: &str) -> Due {
        Due::AllDay(parse_date(date).unwrap())
    }

    /// The wall-clock times and instants of the first `n` advances.
    fn advances(recurrence: Recurrence, due: Due, n: usize) -> Vec<String> {
        let mut series = Series::start(recurrence, &due).unwrap();
        let mut due = due;
        let mut seen = Vec::new();
        for _ in 0..n {
            match series.advance(&due, Utc::now()) {
                Advance::Next {
                    due: next,
                    series: moved,
                } => {
                    seen.push(show(&next));
                    due = next;
                    series = moved;
                }
                Advance::Ended => {
                    seen.push("ended".into());
                    break;
                }
            }
        }
        seen
    }

    fn show(due: &Due) -> String {
        match due {
            Due::AllDay(date) => date.to_string(),
            Due::At { local, at, .. } => format!("{} {}", local.format("%F %R"), at.format("%RZ")),
        }
    }

    #[test]
    fn weekly_keeps_its_wall_clock_time_across_both_new_york_transitions() {
        // 8 March 2026 (spring forward) and 1 November 2026 (fall back).
        let seen = advances(
            rule("FREQ=WEEKLY"),
            at("2026-03-01T09:00:00", "America/New_York"),
            2,
        );
        assert_eq!(seen, ["2026-03-08 09:00 13:00Z", "2026-03-15 09:00 13:00Z"]);
        let seen = advances(
            rule("FREQ=WEEKLY;BYDAY=SU"),
            at("2026-10-25T09:00:00", "America/New_York"),
            1,
        );
        assert_eq!(seen, ["2026-11-01 09:00 14:00Z"]);
    }

    #[test]
    fn daily_in_berlin_across_both_transitions_and_inside_the_gap() {
        let seen = advances(
            rule("FREQ=DAILY"),
            at("2026-03-28T02:30:00", "Europe/Berlin"),
            2,
        );
        // 29 March has no 02:30: 03:30 CEST that day, 02:30 again the next.
        assert_eq!(seen, ["2026-03-29 03:30 01:30Z", "2026-03-30 02:30 00:30Z"]);
        let seen = advances(
            rule("FREQ=DAILY"),
            at("2026-10-24T02:30:00", "Europe/Berlin"),
            2,
        );
        // 25 October has 02:30 twice: the earlier (CEST) one.
        assert_eq!(seen, ["2026-10-25 02:30 00:30Z", "2026-10-26 02:30 01:30Z"]);
    }

    #[test]
    fn new_york_inside_the_gap_and_the_overlap() {
        let seen = advances(
            rule("FREQ=DAILY"),
            at("2026-03-07T02:30:00", "America/New_York"),
            2,
        );
        assert_eq!(seen, ["2026-03-08 03:30 07:30Z", "2026-03-09 02:30 06:30Z"]);
        let seen = advances(
            rule("FREQ=DAILY"),
            at("2026-10-31T01:30:00", "America/New_York"),
            2,
        );
        assert_eq!(seen, ["2026-11-01 01:30 05:30Z", "2026-11-02 01:30 06:30Z"]);
    }

    #[test]
    fn monthly_on_the_31st_skips_shorter_months() {
        let seen = advances(rule("FREQ=MONTHLY"), day("2027-01-31"), 3);
        assert_eq!(seen, ["2027-03-31", "2027-05-31", "2027-07-31"]);
        let seen = advances(rule("FREQ=MONTHLY;BYMONTHDAY=-1"), day("2027-01-31"), 2);
        assert_eq!(seen, ["2027-02-28", "2027-03-31"]);
    }

    #[test]
    fn yearly_on_29_february_waits_for_leap_years() {
        let seen = advances(rule("FREQ=YEARLY"), day("2028-02-29"), 2);
        assert_eq!(seen, ["2032-02-29", "2036-02-29"]);
    }

    #[test]
    fn a_series_ends_with_its_count_and_its_until() {
        let seen = advances(rule("FREQ=DAILY;COUNT=3"), day("2027-01-01"), 5);
        assert_eq!(seen, ["2027-01-02", "2027-01-03", "ended"]);
        let seen = advances(rule("FREQ=WEEKLY;UNTIL=20270115"), day("2027-01-01"), 5);
        assert_eq!(seen, ["2027-01-08", "2027-01-15", "ended"]);
        // An UNTIL in UTC is the zone's wall clock: 14:00Z is 09:00 in New York.
        let seen = advances(
            rule("FREQ=DAILY;UNTIL=20270103T140000Z"),
            at("2027-01-01T09:00", "America/New_York"),
            5,
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2], "ended");
    }

    #[test]
    fn repeat_from_completion_counts_from_the_completion_day() {
        let recurrence =
            Recurrence::parse("FREQ=DAILY;INTERVAL=3", RepeatFrom::Completion).unwrap();
        let due = at("2027-01-01T09:00", "Europe/Berlin");
        let series = Series::start(recurrence, &due).unwrap();
        // Completed late on 5 January (Berlin): next on the 8th at 09:00.
        let now = "2027-01-05T22:30:00Z".parse().unwrap();
        let Advance::Next { due: next, .. } = series.advance(&due, now) else {
            panic!("a daily rule goes on")
        };
        assert_eq!(show(&next), "2027-01-08 09:00 08:00Z");
        // Weekly on Mondays, completed on a Wednesday: the next Monday.
        let recurrence = Recurrence::parse("FREQ=WEEKLY;BYDAY=MO", RepeatFrom::Completion).unwrap();
        let due = day("2027-01-04");
        let series = Series::start(recurrence, &due).unwrap();
        let now = "2027-01-06T12:00:00Z".parse().unwrap();
        let Advance::Next { due: next, .. } = series.advance(&due, now) else {
            panic!("goes on")
        };
        assert_eq!(show(&next), "2027-01-11");
    }

    #[test]
    fn rules_outside_the_subset_are_refused_with_reasons() {
        for (text, words) in [
            ("FREQ=HOURLY", "more often than daily"),
            ("FREQ=MINUTELY;INTERVAL=5", "more often than daily"),
            ("FREQ=DAILY;BYHOUR=8,20", "BYHOUR"),
            ("FREQ=DAILY;COUNT=1001", "COUNT"),
            ("FREQ=DAILY;COUNT=0", "COUNT"),
            ("FREQ=DAILY;INTERVAL=1000", "INTERVAL"),
            ("DTSTART:20270101T090000Z\nRRULE:FREQ=DAILY", "RRULE"),
            ("FREQ=DAILY;DTSTART=20270101", "DTSTART"),
            ("BYDAY=MO", "FREQ"),
            ("FREQ=WEEKLY;BYDAY=XX", "valid"),
            ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
            ("FREQ=DAILY;X-NAME=1", "X-NAME"),
            ("FREQ=DAILY;UNTIL=2027", "UNTIL"),
        ] {
            let err = Recurrence::parse(text, RepeatFrom::Due).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
        let long = format!("FREQ=DAILY;BYMONTHDAY={}", "1,".repeat(130));
        assert!(
            Recurrence::parse(&long, RepeatFrom::Due)
                .unwrap_err()
                .contains("256")
        );
        assert_eq!(
            rule("rrule:freq=weekly;byday=mo,th").rule(),
            "FREQ=WEEKLY;BYDAY=MO,TH"
        );
    }

    #[test]
    fn rules_that_cannot_be_the_dues_are_refused() {
        let due = day("2027-01-01");
        for (text, words) in [
            ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
            ("FREQ=DAILY;COUNT=1", "no occurrence"),
            ("FREQ=DAILY;UNTIL=20261231", "no occurrence"),
            ("FREQ=DAILY;UNTIL=20370102", "10 years"),
        ] {
            let err = Series::start(rule(text), &due).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
        assert!(Series::start(rule("FREQ=DAILY;UNTIL=20370101"), &due).is_ok());
    }

    /// A rule that never occurs makes the crate look through empty periods:
    /// it gives up after 100 000 of them, and that stays fast.
    #[test]
    fn a_hostile_rule_is_refused_quickly() {
        let due = at("2027-01-01T09:00", "Europe/Berlin");
        for text in [
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=31;BYDAY=MO",
            "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11",
            "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
        ] {
            let started = std::time::Instant::now();
            assert!(Series::start(rule(text), &due).is_err(), "{text}");
            let took = started.elapsed();
            println!("{text}: refused in {took:?}");
            assert!(
                took < std::time::Duration::from_secs(2),
                "{text} took {took:?}"
            );
        }
    }

    #[test]
    fn upcoming_starts_with_the_current_due_and_respects_count() {
        let due = day("2027-01-01");
        let series = Series::start(rule("FREQ=WEEKLY;COUNT=3"), &due).unwrap();
        let upcoming: Vec<_> = series.upcoming(&due).iter().map(show).collect();
        assert_eq!(upcoming, ["2027-01-01", "2027-01-08", "2027-01-15"]);
        let series = Series::start(rule("FREQ=DAILY"), &due).unwrap();
        assert_eq!(series.upcoming(&due).len(), SCAN_MAX);
    }
}
