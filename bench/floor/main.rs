//! The floor: a measuring stick for todo-api's two hot reads, not a product.
//!
//! `GET /api/{user_id}/tasks?limit=N` and `GET /api/{user_id}/tasks/{id}` with
//! the least code that does the same work as todo-api: the same HS256 check of
//! the bearer token (jsonwebtoken on aws-lc-rs), the same SQL (prepared once per
//! connection), the same JSON bytes, the same allocator and runtime, built from
//! the same lock file. bench/instructions.py checks that its bodies equal
//! todo-api's and that PostgreSQL sees the same statements, then counts the
//! instructions of both: todo-api ÷ floor is the figure a change is judged by
//! (issue 19), free of the machine's noise.
//!
//!     cargo build --release --example floor
//!     DATABASE_URL=postgres://… BETTER_AUTH_SECRET=… target/release/examples/floor
//!
//! Settings (environment): DATABASE_URL (no TLS), BETTER_AUTH_SECRET, HOST
//! (127.0.0.1), PORT (8000), FLOOR_CONNECTIONS (2: shared clients, requests
//! round-robin over them and pipeline on each). Only the success paths are
//! complete: errors are bare statuses, and a page with more tasks after it has
//! no `Link` (the measured pages have none). `/health` answers 200.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use http_body_util::Full;
use hyper::{
    Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Serialize, Serializer};
use tokio_postgres::{Client, NoTls, Row, Statement};
// todo-api's own statements (src/db/tasks/hot.rs), so the SQL is the same by
// construction; bench/instructions.py also compares what PostgreSQL logs from
// each server. The list reads the owner's change counter as column 17.
use todo_api::db::tasks::hot::{FIND, LIST_FIRST as LIST};

/// As src/main.rs, with its purge delay of 0 (set in `main`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One shared connection and its two prepared statements.
struct Conn {
    client: Client,
    find: Statement,
    list: Statement,
}

struct Floor {
    conns: Vec<Conn>,
    next: AtomicUsize,
    key: DecodingKey,
    validation: Validation,
}

impl Floor {
    fn conn(&self) -> &Conn {
        &self.conns[self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len()]
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    // src/main.rs's mimalloc option: hand freed memory back at once.
    // SAFETY: mimalloc reads its options on each use; setting one is allowed at any time.
    unsafe { libmimalloc_sys::mi_option_set(15, 0) }; // mi_option_purge_delay
    // The same runtime as src/main.rs: multi-thread, one worker per core.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(serve());
}

async fn serve() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let secret = std::env::var("BETTER_AUTH_SECRET").expect("BETTER_AUTH_SECRET");
    let count: usize = env("FLOOR_CONNECTIONS", "2")
        .parse()
        .expect("FLOOR_CONNECTIONS");
    let mut conns = Vec::new();
    for _ in 0..count.max(1) {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let find = client.prepare(FIND).await.expect("prepare find");
        let list = client.prepare(LIST).await.expect("prepare list");
        conns.push(Conn { client, find, list });
    }
    // src/auth/mod.rs's shared-secret path: HS256 only, `exp` and `sub`
    // required, `nbf` checked, JWT_LEEWAY_SECS's default of 5 s, no audience.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let floor = Arc::new(Floor {
        conns,
        next: AtomicUsize::new(0),
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });
    let address = format!("{}:{}", env("HOST", "127.0.0.1"), env("PORT", "8000"));
    let listener = tokio::net::TcpListener::bind(&address).await.expect("bind");
    println!("floor listening on {address}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let floor = Arc::clone(&floor);
        let service = service_fn(move |req| {
            let floor = Arc::clone(&floor);
            async move { Ok::<_, Infallible>(route(&floor, req).await) }
        });
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

type Answer = Response<Full<Bytes>>;

fn status(code: StatusCode) -> Answer {
    let mut response = Response::new(Full::default());
    *response.status_mut() = code;
    response
}

async fn route(floor: &Floor, req: Request<Incoming>) -> Answer {
    let path = req.uri().path();
    if path == "/health" {
        return status(StatusCode::OK);
    }
    let Some((user, rest)) = path
        .strip_prefix("/api/")
        .and_then(|rest| rest.split_once('/'))
    else {
        return status(StatusCode::NOT_FOUND);
    };
    let id = match rest {
        "tasks" => None,
        _ => match rest.strip_prefix("tasks/").map(str::parse::<i64>) {
            Some(Ok(id)) => Some(id),
            _ => return status(StatusCode::NOT_FOUND),
        },
    };
    if req.method() != hyper::Method::GET {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    // 401 for any refused token, then 403 when its subject is not the path's user.
    let Some(sub) = subject(floor, &req) else {
        return status(StatusCode::UNAUTHORIZED);
    };
    let path_user = percent_encoding::percent_decode_str(user).decode_utf8();
    if path_user.ok().as_deref() != Some(sub.as_str()) {
        return status(StatusCode::FORBIDDEN);
    }
    let answer = match id {
        Some(id) => get(floor, &sub, id).await,
        None => list(floor, &sub, req.uri().query().unwrap_or("")).await,
    };
    answer.unwrap_or_else(|err| {
        eprintln!("floor: {err}");
        status(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
}

/// The token's subject, if the token is acceptable: the checks of
/// src/auth/ (size, `crit`, HS256 signature, times, `sub` of 1–255 bytes
/// without NUL), without their precise reasons.
fn subject(floor: &Floor, req: &Request<Incoming>) -> Option<String> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    if token.len() > 8 * 1024 {
        return None;
    }
    let data = jsonwebtoken::decode::<Claims>(token, &floor.key, &floor.validation).ok()?;
    let sub = data.claims.sub;
    let fine = data.header.crit.is_none() && !sub.is_empty() && sub.len() <= 255;
    (fine && !sub.contains('\0')).then_some(sub)
}

async fn get(floor: &Floor, owner: &str, id: i64) -> Result<Answer, tokio_postgres::Error> {
    let conn = floor.conn();
    let rows = conn.client.query(&conn.find, &[&owner, &id]).await?;
    let Some(row) = rows.first() else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let task = TaskJson::of(row, owner)?;
    Ok(json(
        serde_json::to_vec(&task),
        format!("\"{}\"", task.version),
    ))
}

async fn list(floor: &Floor, owner: &str, query: &str) -> Result<Answer, tokio_postgres::Error> {
    // The floor reads `limit` only (1–500, default 500).
    let limit = match query.strip_prefix("limit=").map(str::parse::<i64>) {
        None if query.is_empty() => 500,
        Some(Ok(limit @ 1..=500)) => limit,
        _ => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let conn = floor.conn();
    // One row more than the page says whether another page follows.
    let rows = conn
        .client
        .query(&conn.list, &[&owner, &(limit + 1)])
        .await?;
    let page = &rows[..rows.len().min(limit as usize)];
    let tasks = page
        .iter()
        .map(|row| TaskJson::of(row, owner))
        .collect::<Result<Vec<_>, _>>()?;
    // The weak ETag of src/api/tasks.rs: the owner's last change number (read
    // with the rows) and the first 6 bytes of the query's SHA-256.
    let state = match rows.last() {
        Some(row) => row.try_get::<_, Option<i64>>(17)?.unwrap_or(0).to_string(),
        None => "empty".to_owned(),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, query.as_bytes());
    let hex: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut body = Vec::with_capacity(2 + 400 * tasks.len());
    Ok(json(
        serde_json::to_writer(&mut body, &tasks).map(|()| body),
        format!("W/\"{state}-{hex}\""),
    ))
}

fn json(body: serde_json::Result<Vec<u8>>, etag: String) -> Answer {
    let Ok(body) = body else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    let value = |text: &str| header::HeaderValue::from_str(text).expect("an ASCII header");
    headers.insert(
        header::CONTENT_TYPE,
        value("application/json; charset=utf-8"),
    );
    headers.insert(header::ETAG, value(&etag));
    headers.insert(header::CACHE_CONTROL, value("private, no-cache"));
    response
}

/// A task as todo-api writes it (src/api/tasks/json.rs): the same keys in the
/// same order, borrowed from the row.
#[derive(Serialize)]
struct TaskJson<'a> {
    id: i64,
    user_id: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
    priority: &'static str,
    tags: Tags<'a>,
    due: Option<DueJson<'a>>,
    recurrence: Option<RecurrenceJson<'a>>,
    reminders: Reminders<'a>,
    created_at: Stamp,
    updated_at: Stamp,
    version: i64,
    trashed_at: Option<Stamp>,
}

impl<'a> TaskJson<'a> {
    /// From a row in `COLUMNS` order.
    fn of(row: &'a Row, owner: &'a str) -> Result<Self, tokio_postgres::Error> {
        let date: Option<NaiveDate> = row.try_get(8)?;
        let time: Option<NaiveTime> = row.try_get(9)?;
        let zone: Option<&str> = row.try_get(10)?;
        let at: Option<DateTime<Utc>> = row.try_get(11)?;
        // Timed when it has a time and an instant; else all day (src/domain/due.rs).
        let timed = time.zip(at);
        let due = date.map(|date| DueJson {
            date: Text::Date(date),
            datetime: timed.map(|(time, _)| Text::WallClock(date.and_time(time))),
            time_zone: timed.map(|_| zone.unwrap_or("UTC")),
            at: timed.map(|(_, at)| Stamp(at)),
        });
        let rule: Option<&str> = row.try_get(14)?;
        let from: Option<&str> = row.try_get(15)?;
        let priority: i16 = row.try_get(6)?;
        Ok(Self {
            id: row.try_get(0)?,
            user_id: owner,
            title: row.try_get(1)?,
            description: row.try_get(2)?,
            completed: row.try_get(3)?,
            priority: ["none", "low", "medium", "high"]
                .get(usize::try_from(priority).unwrap_or(0))
                .unwrap_or(&"none"),
            tags: Tags(row.try_get(7)?),
            due,
            recurrence: rule
                .zip(from.filter(|from| ["due", "completion"].contains(from)))
                .map(|(rrule, repeat_from)| RecurrenceJson { rrule, repeat_from }),
            reminders: Reminders {
                column: row.try_get(16)?,
                due_at: timed.map(|(_, at)| at),
            },
            created_at: Stamp(row.try_get(4)?),
            updated_at: Stamp(row.try_get(5)?),
            version: row.try_get(12)?,
            trashed_at: row.try_get::<_, Option<DateTime<Utc>>>(13)?.map(Stamp),
        })
    }
}

#[derive(Serialize)]
struct DueJson<'a> {
    date: Text,
    datetime: Option<Text>,
    time_zone: Option<&'a str>,
    at: Option<Stamp>,
}

#[derive(Serialize)]
struct RecurrenceJson<'a> {
    rrule: &'a str,
    repeat_from: &'a str,
}

/// The stored `,home,urgent,` as `["home","urgent"]`.
struct Tags<'a>(&'a str);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.split(',').filter(|tag| !tag.is_empty()))
    }
}

/// The stored `PT15M,2026-12-01T07:45:00Z` as `{"before", "at"}` objects; a
/// duration counts back from a timed due and is left out without one.
struct Reminders<'a> {
    column: &'a str,
    due_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct ReminderJson<'a> {
    before: Option<&'a str>,
    at: Stamp,
}

impl Serialize for Reminders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let reminders = self.column.split(',').filter_map(|item| {
            if item.starts_with('P') {
                let at = self.due_at? - TimeDelta::seconds(seconds(item));
                Some(ReminderJson {
                    before: Some(item),
                    at: Stamp(at),
                })
            } else {
                let at = NaiveDateTime::parse_from_str(item, "%Y-%m-%dT%H:%M:%SZ").ok()?;
                Some(ReminderJson {
                    before: None,
                    at: Stamp(at.and_utc()),
                })
            }
        });
        serializer.collect_seq(reminders)
    }
}

/// The seconds of a stored duration, `P1DT2H30M` (days, hours, minutes, seconds).
fn seconds(duration: &str) -> i64 {
    let (mut total, mut number) = (0, 0);
    for c in duration.bytes() {
        let unit = match c {
            b'0'..=b'9' => {
                number = number * 10 + i64::from(c - b'0');
                continue;
            }
            b'D' => 86_400,
            b'H' => 3_600,
            b'M' => 60,
            b'S' => 1,
            _ => continue, // `P`, `T`
        };
        total += number * unit;
        number = 0;
    }
    total
}

/// An instant as `2026-11-24T09:30:00.123456Z` (src/api/schema.rs), digit by digit.
struct Stamp(DateTime<Utc>);

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let t = self.0.naive_utc();
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        write_date(&mut text, t.date());
        write_time(&mut text, t.time());
        write_digits(&mut text[20..26], (t.nanosecond() / 1_000).min(999_999));
        serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

/// A due's local date (`2026-12-01`) or wall-clock time (`2026-12-01T09:00:00`).
enum Text {
    Date(NaiveDate),
    WallClock(NaiveDateTime),
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = *b"0000-00-00T00:00:00";
        let text = match self {
            Self::Date(date) => {
                write_date(&mut text, *date);
                &text[..10]
            }
            Self::WallClock(local) => {
                write_date(&mut text, local.date());
                write_time(&mut text, local.time());
                &text[..]
            }
        };
        serializer.serialize_str(std::str::from_utf8(text).unwrap_or_default())
    }
}

fn write_date(text: &mut [u8], date: NaiveDate) {
    let year = u32::try_from(date.year()).unwrap_or(0).min(9999);
    write_digits(&mut text[0..4], year);
    write_digits(&mut text[5..7], date.month());
    write_digits(&mut text[8..10], date.day());
}

fn write_time(text: &mut [u8], time: NaiveTime) {
    write_digits(&mut text[11..13], time.hour());
    write_digits(&mut text[14..16], time.minute());
    write_digits(&mut text[17..19], time.second().min(59));
}

fn write_digits(text: &mut [u8], mut value: u32) {
    for digit in text.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}
