//! What a listing asks for: filters, a multi-key order, a page. The request's
//! text is turned into bounds and keys here (time-zone arithmetic included),
//! so the database only compares values. Cursors (`cursor.rs`) are bound to
//! the canonical form of the filters and order made here.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;

pub use super::cursor::{SortValue, sort_value};
use super::{
    Priority, Problems, Task, ValidationError, cursor,
    due::{day_start, parse_date, parse_zone, today},
    tags::{TAGS_MAX, fold, parse_tag},
};

/// Most tasks one page holds; also the page size without `limit`.
pub const LIMIT_MAX: u32 = 500;
/// Largest `offset`: page-number UIs go this deep at most (cursors go anywhere).
pub const OFFSET_MAX: u32 = 100_000;
/// Longest `search`, in characters after trimming.
pub const SEARCH_MAX_CHARS: usize = 200;
/// Most distinct keys in one `sort`.
pub const SORT_KEYS_MAX: usize = 4;
/// Which tasks a listing returns, by completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    /// The `completed` value to match, or `None` for every task.
    pub fn completed(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Pending => Some(false),
            Self::Completed => Some(true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Title,
    Priority,
    Due,
    Status,
}

impl SortKey {
    const NAMES: [(&'static str, Self); 8] = [
        ("created", Self::Created),
        ("updated", Self::Updated),
        ("title", Self::Title),
        ("priority", Self::Priority),
        ("due", Self::Due),
        ("status", Self::Status),
        ("created_at", Self::Created),
        ("updated_at", Self::Updated),
    ];

    /// The direction a bare key takes: dates newest first, titles A→Z,
    /// priority high first, due soonest first, pending before completed.
    pub fn natural(self) -> SortOrder {
        match self {
            Self::Created | Self::Updated | Self::Priority => SortOrder::Desc,
            Self::Title | Self::Due | Self::Status => SortOrder::Asc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// `due=`: a window relative to today in the listing's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueWindow {
    Overdue,
    Today,
    Week,
    None,
    Any,
}

/// A bound on due dates: timed tasks compare `at`, all-day tasks `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueBound {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
}

/// One condition on the due date; a listing ANDs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueCondition {
    None,
    Any,
    /// `from` ≤ due < `to`.
    Range {
        from: Option<DueBound>,
        to: Option<DueBound>,
    },
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    First,
    /// After the task with these sort values and id (a cursor).
    After(Vec<SortValue>, i64),
    Offset(u32),
}

/// A listing request, validated, with its bounds computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: StatusFilter,
    /// Any of these (none: every priority).
    pub priorities: Vec<Priority>,
    /// All of these, normalised.
    pub tags: Vec<String>,
    pub due: Vec<DueCondition>,
    /// Folded text to find in the title or description.
    pub search: Option<String>,
    /// Distinct keys; `id` breaks ties in the first key's direction.
    pub sort: Vec<(SortKey, SortOrder)>,
    pub limit: u32,
    pub start: Start,
    pub include_total: bool,
    /// What the due filters were asked as (not their bounds, which move
    /// with the clock), for [`ListQuery::fingerprint`].
    due_asked: (
        Option<DueWindow>,
        &'static str,
        Option<DueBound>,
        Option<DueBound>,
    ),
}

/// A listing request as sent; [`ListParams::resolve`] checks all of it at once.
#[derive(Debug, Clone, Default)]
pub struct ListParams<'a> {
    pub status: StatusFilter,
    pub priorities: Vec<Priority>,
    pub tags: &'a [String],
    pub due: Option<DueWindow>,
    pub tz: Option<&'a str>,
    pub due_from: Option<&'a str>,
    pub due_to: Option<&'a str>,
    pub search: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub order: Option<SortOrder>,
    pub limit: Option<u32>,
    pub cursor: Option<&'a str>,
    pub offset: Option<u32>,
    pub include_total: bool,
}

impl ListParams<'_> {
    /// The listing these parameters ask for at `now`, or every problem found.
    pub fn resolve(self, now: DateTime<Utc>) -> Result<ListQuery, ValidationError> {
        let mut problems = Problems::default();
        let zone = match self.tz {
            Some(name) => problems
                .check_field("tz", parse_zone(name))
                .unwrap_or(Tz::UTC),
            None => Tz::UTC,
        };
        let mut tags = Vec::new();
        for raw in self.tags {
            if let Some(tag) = problems.check_field("tag", parse_tag(raw)) {
                tags.push(tag);
            }
        }
        tags.sort_unstable();
        tags.dedup();
        if tags.len() > TAGS_MAX {
            // No task carries more: such a filter could match nothing.
            problems.push("tag", format!("may name at most {TAGS_MAX} distinct tags"));
        }
        let mut priorities = self.priorities.clone();
        priorities.sort_unstable();
        priorities.dedup();
        let search = self
            .search
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .and_then(|text| problems.check_field("search", parse_search(text)));
        let from = self
            .due_from
            .and_then(|text| problems.check_field("due_from", parse_bound(text, zone, false)));
        let to = self
            .due_to
            .and_then(|text| problems.check_field("due_to", parse_bound(text, zone, true)));
        let sort = problems
            .check_field("sort", parse_sort(self.sort))
            .unwrap_or_default();
        let sort = match (self.order, sort.as_slice()) {
            (None, _) => sort,
            (Some(order), [(key, None)]) => vec![(*key, Some(order))],
            (Some(_), _) => {
                problems.push(
                    "order",
                    "applies only to a single sort key without a direction; \
                     write the direction into sort instead (e.g. sort=title:desc,due)",
                );
                sort
            }
        };
        let sort: Vec<_> = sort
            .into_iter()
            .map(|(key, order)| (key, order.unwrap_or(key.natural())))
            .collect();
        let limit = self.limit.unwrap_or(LIMIT_MAX);
        if !(1..=LIMIT_MAX).contains(&limit) {
            problems.push("limit", format!("must be between 1 and {LIMIT_MAX}"));
        }
        if self.offset.is_some_and(|offset| offset > OFFSET_MAX) {
            problems.push(
                "offset",
                format!(
                    "must be between 0 and {OFFSET_MAX}; follow the Link header's cursor to go further"
                ),
            );
        }
        let mut due = Vec::new();
        if let Some(window) = self.due {
            due.push(window_condition(window, now, zone));
        }
        if from.is_some() || to.is_some() {
            due.push(DueCondition::Range { from, to });
        }
        let mut query = ListQuery {
            status: self.status,
            priorities,
            tags,
            due,
            search,
            sort,
            limit,
            start: Start::First,
            include_total: self.include_total,
            due_asked: (self.due, zone.name(), from, to),
        };
        query.start = match (self.cursor, self.offset) {
            (Some(_), Some(_)) => {
                problems.push(
                    "cursor",
                    "cannot be combined with offset: use one way of paging",
                );
                Start::First
            }
            (Some(cursor), None) if problems.is_empty() => {
                match cursor::decode(cursor, &query.fingerprint(), &query.sort) {
                    Ok((values, id)) => Start::After(values, id),
                    Err(message) => {
                        problems.push("cursor", message);
                        Start::First
                    }
                }
            }
            (_, Some(offset)) => Start::Offset(offset),
            _ => Start::First,
        };
        problems.finish(|| query)
    }
}

impl ListQuery {
    /// The first page of every task, newest first: v1's default listing.
    pub fn everything() -> Self {
        ListParams::default()
            .resolve(Utc::now())
            .expect("the defaults are valid")
    }

    /// The cursor of the page after `last`, the last task of this page.
    pub fn cursor_after(&self, last: &Task) -> String {
        cursor::encode(&self.fingerprint(), &self.sort, last)
    }

    /// The filters and order in canonical form: what a cursor is bound to.
    /// Made only when a cursor is read or made, off the common path.
    fn fingerprint(&self) -> String {
        format!(
            "v1|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.status, self.priorities, self.tags, self.due_asked, self.search, self.sort
        )
    }
}

fn parse_search(text: &str) -> Result<String, String> {
    if text.chars().count() > SEARCH_MAX_CHARS {
        return Err(format!("must be at most {SEARCH_MAX_CHARS} characters"));
    }
    if text.contains('\0') {
        return Err("must not contain NUL characters".to_owned());
    }
    Ok(fold(text))
}

/// `sort` as keys with their explicit directions, if any.
fn parse_sort(text: Option<&str>) -> Result<Vec<(SortKey, Option<SortOrder>)>, String> {
    let Some(text) = text else {
        return Ok(vec![(SortKey::Created, None)]);
    };
    let names = || {
        SortKey::NAMES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut keys: Vec<(SortKey, Option<SortOrder>)> = Vec::new();
    for item in text.split(',') {
        let (name, direction) = match item.trim().split_once(':') {
            Some((name, direction)) => (name, Some(direction)),
            None => (item.trim(), None),
        };
        let key = SortKey::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, key)| *key)
            .ok_or_else(|| {
                let name: String = name.chars().take(40).collect();
                format!(
                    "unknown key {name:?}: use key[:asc|:desc] with keys {}",
                    names()
                )
            })?;
        let order = match direction {
            None => None,
            Some("asc") => Some(SortOrder::Asc),
            Some("desc") => Some(SortOrder::Desc),
            Some(other) => {
                let other: String = other.chars().take(20).collect();
                return Err(format!("unknown direction {other:?}: use asc or desc"));
            }
        };
        if keys.iter().any(|(seen, _)| *seen == key) {
            return Err(format!(
                "names the key {name:?} twice (created_at and updated_at are created and updated)"
            ));
        }
        keys.push((key, order));
    }
    if keys.len() > SORT_KEYS_MAX {
        return Err(format!("may name at most {SORT_KEYS_MAX} keys"));
    }
    Ok(keys)
}

/// A `due_from`/`due_to` (`end`) value: a date (its start in `zone`) or an
/// RFC 3339 instant. An all-day task lasts its whole date in `zone`, and
/// matches when that day overlaps the range: from the instant's date on, and
/// up to (excluding) the instant's date — including it when the instant is
/// past that day's start.
pub fn parse_bound(text: &str, zone: Tz, end: bool) -> Result<DueBound, String> {
    if text.len() == 10 {
        let date = parse_date(text)?;
        return Ok(DueBound {
            date,
            at: day_start(date, zone),
        });
    }
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            let text: String = text.chars().take(40).collect();
            format!(
                "{text:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant \
                 (2026-12-01T09:00:00Z, 2026-12-01T09:00:00+01:00)"
            )
        })?
        .to_utc();
    let date = today(at, zone);
    let date = if end && at > day_start(date, zone) {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(DueBound { date, at })
}

fn window_condition(window: DueWindow, now: DateTime<Utc>, zone: Tz) -> DueCondition {
    let today = today(now, zone);
    let day = |days: u64| {
        let date = today.checked_add_days(Days::new(days)).unwrap_or(today);
        DueBound {
            date,
            at: day_start(date, zone),
        }
    };
    match window {
        DueWindow::None => DueCondition::None,
        DueWindow::Any => DueCondition::Any,
        DueWindow::Overdue => DueCondition::Range {
            from: None,
            to: Some(DueBound {
                date: today,
                at: now,
            }),
        },
        DueWindow::Today => DueCondition::Range {
            from: Some(day(0)),
            to: Some(day(1)),
        },
        DueWindow::Week => DueCondition::Range {
            from: Some(day(0)),
            to: Some(day(7)),
        },
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-08T04:30:00Z")
            .unwrap()
            .to_utc()
    }

    fn fields(err: ValidationError) -> Vec<&'static str> {
        err.0.iter().map(|e| e.field).collect()
    }

    #[test]
    fn v1_parameters_keep_their_meaning() {
        let sort = |sort, order| {
            ListParams {
                sort,
                order,
                ..ListParams::default()
            }
            .resolve(now())
            .unwrap()
            .sort
        };
        assert_eq!(sort(None, None), [(SortKey::Created, SortOrder::Desc)]);
        assert_eq!(
            sort(Some("title"), None),
            [(SortKey::Title, SortOrder::Asc)]
        );
        assert_eq!(
            sort(Some("title"), Some(SortOrder::Desc)),
            [(SortKey::Title, SortOrder::Desc)]
        );
        assert_eq!(
            sort(Some("updated_at"), Some(SortOrder::Asc)),
            [(SortKey::Updated, SortOrder::Asc)]
        );
        assert_eq!(
            sort(Some("priority,due:desc"), None),
            [
                (SortKey::Priority, SortOrder::Desc),
                (SortKey::Due, SortOrder::Desc)
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let tags = ["x".repeat(41)];
        let err = ListParams {
            tz: Some("Nowhere/City"),
            tags: &tags,
            sort: Some("title,nope"),
            due_from: Some("2026-02-30"),
            limit: Some(0),
            cursor: Some("abc"),
            offset: Some(3),
            ..ListParams::default()
        }
        .resolve(now())
        .unwrap_err();
        assert_eq!(
            fields(err),
            ["tz", "tag", "due_from", "sort", "limit", "cursor"]
        );
        for sort in ["created,created_at", "a,b,c,d,e", "title:up", "title,", ""] {
            let params = ListParams {
                sort: Some(sort),
                ..ListParams::default()
            };
            assert_eq!(
                fields(params.resolve(now()).unwrap_err()),
                ["sort"],
                "{sort}"
            );
        }
        let params = ListParams {
            sort: Some("title,due"),
            order: Some(SortOrder::Asc),
            ..ListParams::default()
        };
        assert_eq!(fields(params.resolve(now()).unwrap_err()), ["order"]);
    }

    #[test]
    fn today_is_the_day_in_the_listing_time_zone() {
        // 04:30 UTC on 8 March is still 7 March in New York (EST, UTC-5),
        // and that day ends at 05:00 UTC.
        let query = ListParams {
            due: Some(DueWindow::Today),
            tz: Some("America/New_York"),
            ..ListParams::default()
        }
        .resolve(now())
        .unwrap();
        let DueCondition::Range {
            from: Some(from),
            to: Some(to),
        } = &query.due[0]
        else {
            panic!("{:?}", query.due)
        };
        assert_eq!(from.date.to_string(), "2026-03-07");
        assert_eq!(from.at.to_rfc3339(), "2026-03-07T05:00:00+00:00");
        assert_eq!(to.date.to_string(), "2026-03-08");
        assert_eq!(to.at.to_rfc3339(), "2026-03-08T05:00:00+00:00");
    }

    fn task(title: &str) -> Task {
        Task {
            id: 7,
            user_id: super::super::UserId::new("u"),
            title: title.to_owned(),
            description: None,
            completed: false,
            priority: Priority::High,
            tags: Default::default(),
            due: None,
            recurrence: None,
            reminders: Default::default(),
            created_at: now(),
            updated_at: now(),
            version: 1,
            trashed_at: None,
        }
    }

    #[test]
    fn a_cursor_comes_back_only_to_its_own_filters_and_sort() {
        let params = || ListParams {
            sort: Some("priority,due,title"),
            status: StatusFilter::Pending,
            ..ListParams::default()
        };
        let query = params().resolve(now()).unwrap();
        let cursor = query.cursor_after(&task("a \"title\" é"));
        let next = ListParams {
            cursor: Some(&cursor),
            ..params()
        }
        .resolve(now())
        .unwrap();
        assert_eq!(
            next.start,
            Start::After(
                vec![
                    SortValue::Rank(3),
                    SortValue::DueKey(None),
                    SortValue::Text("a \"title\" é".into())
                ],
                7
            )
        );
        // Other filters, another order, or an edited cursor: 422 on `cursor`.
        let other = ListParams {
            cursor: Some(&cursor),
            status: StatusFilter::All,
            ..params()
        };
        assert_eq!(fields(other.resolve(now()).unwrap_err()), ["cursor"]);
        let (payload, check) = cursor.split_once('.').unwrap();
        let edited = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
                .replace(",7]", ",8]"),
        );
        for bad in [
            format!("{edited}.{check}"),
            "not-a-cursor".to_owned(),
            format!("{payload}."),
            "x".repeat(5000),
        ] {
            let params = ListParams {
                cursor: Some(&bad),
                ..params()
            };
            assert_eq!(fields(params.resolve(now()).unwrap_err()), ["cursor"]);
        }
    }
}
