//! Due dates: all-day dates, wall-clock times in an IANA time zone, and the
//! instants they make, with RFC 5545's rules for DST gaps and overlaps.
//!
//! What the user meant is kept (the local date, time and zone); the UTC
//! instant is derived from it. Nothing here ever computes a bound in SQL:
//! listing filters get their instants and dates from [`day_start`].

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// Earliest and latest year a due date may have: every instant they make
/// keeps four digits, so dates, times and sort keys keep one width and sort
/// as text on both backends.
pub const FIRST_YEAR: i32 = 1900;
pub const LAST_YEAR: i32 = 2999;

/// Longest time zone name accepted (the longest IANA name has 32 characters).
const ZONE_MAX_CHARS: usize = 64;

/// When a task is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// All day on a date: the same date for every viewer, in every zone.
    AllDay(NaiveDate),
    /// A wall-clock time in a zone, and the instant it is.
    At {
        local: NaiveDateTime,
        zone: Tz,
        at: DateTime<Utc>,
    },
}

impl Due {
    /// The wall-clock time `local` in `zone`. RFC 5545 §3.3.5: a time inside a
    /// spring-forward gap is read with the offset in force before the gap (so
    /// it moves forward by the gap's length: 02:30 becomes 03:30), and an
    /// ambiguous time of a fall-back overlap is the earlier instant. The
    /// stored wall-clock time is the normalised one.
    pub fn wall_clock(local: NaiveDateTime, zone: Tz) -> Self {
        let at = match zone.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.to_utc(),
            LocalResult::None => {
                // Gaps last minutes to hours; the last valid minute before
                // this one carries the offset before the gap.
                let before = (1..=48 * 60)
                    .find_map(|minutes| {
                        zone.from_local_datetime(&(local - Duration::minutes(minutes)))
                            .latest()
                    })
                    .map_or(Utc.fix(), |earlier| earlier.offset().fix());
                (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
            }
        };
        Self::At {
            local: at.with_timezone(&zone).naive_local(),
            zone,
            at,
        }
    }

    /// An instant; stored as `zone`'s wall-clock time for it (UTC without one).
    pub fn instant(at: DateTime<Utc>, zone: Option<Tz>) -> Self {
        let zone = zone.unwrap_or(Tz::UTC);
        Self::At {
            local: at.with_timezone(&zone).naive_local(),
            zone,
            at,
        }
    }

    /// The local date: the all-day date, or the wall-clock time's date.
    pub fn date(&self) -> NaiveDate {
        match self {
            Self::AllDay(date) => *date,
            Self::At { local, .. } => local.date(),
        }
    }

    /// The order of due dates: by local date, all-day tasks first, then timed
    /// ones by instant. Text that sorts the same way on both backends:
    /// `2026-12-01` or `2026-12-01 2026-12-01T08:00:00.000000Z`.
    pub fn sort_key(&self) -> String {
        match self {
            Self::AllDay(date) => date.format("%Y-%m-%d").to_string(),
            Self::At { local, at, .. } => format!(
                "{} {}",
                local.format("%Y-%m-%d"),
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
        }
    }

    /// Back from stored columns. `None` when they do not make a due date
    /// (the schema's checks prevent that).
    pub fn from_columns(
        date: Option<NaiveDate>,
        time: Option<NaiveTime>,
        zone: Option<&str>,
        at: Option<DateTime<Utc>>,
    ) -> Option<Self> {
        let date = date?;
        Some(match (time, at) {
            (Some(time), Some(at)) => Self::At {
                local: date.and_time(time),
                // Names are only ever stored after parsing; chrono-tz keeps
                // every name it once knew (old ones as links).
                zone: zone
                    .and_then(|name| Tz::from_str(name).ok())
                    .unwrap_or(Tz::UTC),
                at,
            },
            _ => Self::AllDay(date),
        })
    }
}

/// An IANA zone name, spelled as the tz database does (`Europe/Berlin`).
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    if name.chars().count() > ZONE_MAX_CHARS {
        return Err(format!(
            "must be an IANA time zone name of at most {ZONE_MAX_CHARS} characters"
        ));
    }
    Tz::from_str(name).map_err(|_| {
        format!(
            "unknown time zone {:?}: use an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
            name
        )
    })
}

/// A calendar date `YYYY-MM-DD`, years 1900–2999.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = shape
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("{text:?} is not a date of the form YYYY-MM-DD that exists"))?;
    check_year(date)?;
    Ok(date)
}

/// A date-time as a due date takes it: `YYYY-MM-DDTHH:MM[:SS]`, no
/// fractions, then optionally `Z` or an offset `±HH:MM` (an instant).
pub fn parse_datetime(text: &str) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
    let wrong = || {
        format!(
            "{text:?} is not a date-time of the form YYYY-MM-DDTHH:MM[:SS] (optionally followed \
             by Z or ±HH:MM) that exists"
        )
    };
    let local_len = match text.as_bytes().get(16) {
        Some(b':') => 19,
        _ => 16,
    };
    if text.len() < local_len || !text.is_char_boundary(local_len) {
        return Err(wrong());
    }
    let (local, offset) = text.split_at(local_len);
    let shape = local.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    let format = if local_len == 19 {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%dT%H:%M"
    };
    let local = shape
        .then(|| NaiveDateTime::parse_from_str(local, format).ok())
        .flatten()
        // chrono reads second 60 as a leap second: not a time a task has.
        .filter(|local| local.and_utc().timestamp_subsec_nanos() == 0)
        .ok_or_else(wrong)?;
    check_year(local.date())?;
    let offset = match offset {
        "" => None,
        "Z" | "z" => Some(Utc.fix()),
        _ => Some(parse_offset(offset).ok_or_else(wrong)?),
    };
    Ok((local, offset))
}

/// `±HH:MM`, at most ±23:59.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let number = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (hours, minutes) = (number(1..3)?, number(4..6)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn check_year(date: NaiveDate) -> Result<(), String> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        Ok(())
    } else {
        Err(format!(
            "the year must be between {FIRST_YEAR} and {LAST_YEAR}"
        ))
    }
}

/// The instant `date` starts in `zone` (its first valid wall-clock time when
/// midnight falls in a DST gap, as in Santiago or Havana).
pub fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    match Due::wall_clock(date.and_time(NaiveTime::MIN), zone) {
        Due::At { at, .. } => at,
        Due::AllDay(_) => unreachable!("a wall-clock time has an instant"),
    }
}

/// Today's date in `zone`.
pub fn today(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        parse_datetime(text).unwrap().0
    }

    fn wall(text: &str, zone: &str) -> (String, String) {
        match Due::wall_clock(local(text), parse_zone(zone).unwrap()) {
            Due::At { local, at, .. } => (
                local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            Due::AllDay(_) => unreachable!(),
        }
    }

    #[test]
    fn a_time_in_a_spring_forward_gap_moves_forward_by_the_gap() {
        // New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT.
        assert_eq!(
            wall("2026-03-08T02:30:00", "America/New_York"),
            ("2026-03-08T03:30:00".into(), "2026-03-08T07:30:00Z".into())
        );
        // Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST.
        assert_eq!(
            wall("2026-03-29T02:15", "Europe/Berlin"),
            ("2026-03-29T03:15:00".into(), "2026-03-29T01:15:00Z".into())
        );
        // Lord Howe moves by half an hour.
        assert_eq!(
            wall("2026-10-04T02:10:00", "Australia/Lord_Howe").0,
            "2026-10-04T02:40:00"
        );
    }

    #[test]
    fn an_ambiguous_time_takes_the_earlier_instant() {
        // New York, 1 November 2026: 01:30 happens twice (EDT, then EST).
        assert_eq!(
            wall("2026-11-01T01:30:00", "America/New_York"),
            ("2026-11-01T01:30:00".into(), "2026-11-01T05:30:00Z".into())
        );
        assert_eq!(
            wall("2026-10-25T02:30:00", "Europe/Berlin").1,
            "2026-10-25T00:30:00Z"
        );
    }

    #[test]
    fn ordinary_times_and_instants() {
        assert_eq!(
            wall("2026-12-01T09:00", "Europe/Berlin").1,
            "2026-12-01T08:00:00Z"
        );
        let (local, offset) = parse_datetime("2026-12-01T08:00:00+01:00").unwrap();
        let at = offset
            .unwrap()
            .from_local_datetime(&local)
            .unwrap()
            .to_utc();
        match Due::instant(at, Some(parse_zone("Asia/Tokyo").unwrap())) {
            Due::At { local, zone, .. } => {
                assert_eq!(zone.name(), "Asia/Tokyo");
                assert_eq!(local.to_string(), "2026-12-01 16:00:00");
            }
            Due::AllDay(_) => unreachable!(),
        }
    }

    #[test]
    fn sort_keys_order_by_date_then_all_day_then_instant() {
        let day = Due::AllDay(parse_date("2026-12-01").unwrap());
        let morning = Due::wall_clock(local("2026-12-01T09:00"), Tz::UTC);
        let next = Due::AllDay(parse_date("2026-12-02").unwrap());
        assert!(day.sort_key() < morning.sort_key());
        assert!(morning.sort_key() < next.sort_key());
        assert_eq!(morning.sort_key(), "2026-12-01 2026-12-01T09:00:00.000000Z");
    }

    #[test]
    fn bad_dates_and_times_are_refused() {
        for text in [
            "2026-02-30",
            "2026-2-3",
            "20261201",
            "1899-12-31",
            "3000-01-01",
            " 2026-01-01",
        ] {
            assert!(parse_date(text).is_err(), "{text}");
        }
        for text in [
            "2026-12-01",
            "2026-12-01T25:00",
            "2026-12-01T09:00:00.5",
            "2026-12-01T23:59:60",
            "2026-12-01 09:00",
            "2026-12-01T09:00+1",
            "2026-12-01T09:00:00+24:00",
            "2026-12-01T09:00:00é",
        ] {
            assert!(parse_datetime(text).is_err(), "{text}");
        }
        assert!(parse_zone("Mars/Olympus").is_err());
        assert_eq!(parse_zone("UTC").unwrap(), Tz::UTC);
        assert!(parse_zone("europe/berlin").is_err());
    }

    #[test]
    fn a_day_starts_at_its_first_valid_minute() {
        let santiago = parse_zone("America/Santiago").unwrap();
        // Chile springs forward at midnight: 2026-09-06 starts at 01:00 -03.
        let start = day_start(parse_date("2026-09-06").unwrap(), santiago);
        assert_eq!(start.to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }
}
