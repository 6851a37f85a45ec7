//! The test harness: the real app, in-process, on a fresh database per test,
//! with typed helpers that read like the API.

pub mod events;
pub mod postgres;
pub mod skips;
pub mod sqlite;

use std::sync::Arc;

use jsonwebtoken::{EncodingKey, Header};
use poem::{
    EndpointExt, Response,
    endpoint::BoxEndpoint,
    http::{HeaderMap, Method, StatusCode},
    test::TestClient,
};
use serde_json::{Value, json};
use todo_api::{
    api::{AppState, IdempotencySettings, Services},
    app::build_app,
    auth::TokenVerifier,
    config::DEFAULT_MAX_TASKS_PER_USER,
    db::{Database, PoolSettings},
};

pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const FRONTEND: &str = "http://localhost:3000";

/// Seconds since the epoch, for token claims.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An HS256 token over `claims`, signed with `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a test token")
}

/// A signed-in user of the frontend: an id and a valid token for it.
#[derive(Clone)]
pub struct TestUser {
    pub id: String,
    pub token: String,
}

impl TestUser {
    pub fn new(id: &str) -> Self {
        let claims = json!({"sub": id, "email": format!("{id}@example.com"), "exp": now() + 3600});
        Self {
            id: id.to_owned(),
            token: sign(&claims, SECRET),
        }
    }

    pub fn tasks_path(&self) -> String {
        format!("/api/{}/tasks", self.id)
    }

    pub fn task_path(&self, id: i64) -> String {
        format!("/api/{}/tasks/{id}", self.id)
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    pub async fn read(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .into_vec()
            .await
            .expect("reading the body");
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
        };
        Self {
            status,
            headers,
            body,
            raw,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn expect_problem(&self, status: u16) -> &Value {
        self.expect(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], "about:blank");
        assert!(self.body["title"].is_string());
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "detail must be a non-empty string: {}",
            self.body
        );
        &self.body
    }

    /// Names of the fields a 422 complains about.
    #[track_caller]
    pub fn invalid_fields(&self) -> Vec<String> {
        let problem = self.expect_problem(422);
        problem["errors"]
            .as_array()
            .expect("a 422 lists its errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect()
    }
}

/// Defines each test twice, in a `postgres` and an `sqlite` module: the same
/// body against the app on each backend. The PostgreSQL twin is skipped (with a
/// printed reason, never under `CI=true`) where no PostgreSQL can be had.
macro_rules! backend_tests {
    ($($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* #[tokio::test] async fn $name() {
                let Some($app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await else {
                    return;
                };
                $body
            })*
        }
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* #[tokio::test] async fn $name() {
                let Some($app) = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await else {
                    unreachable!("SQLite is embedded");
                };
                $body
            })*
        }
    };
}
pub(crate) use backend_tests;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database made for one test, removed when dropped.
enum TestDatabase {
    Postgres(#[allow(dead_code)] postgres::TestDatabase),
    Sqlite(#[allow(dead_code)] sqlite::TestFile),
    /// The test owns its database.
    None,
}

pub struct TestApp {
    client: TestClient<BoxEndpoint<'static, Response>>,
    /// The app's database, for what a test does behind the API's back.
    pub db: Database,
    /// Kept so the database lives (and is dropped) with the app.
    _database: TestDatabase,
    live: todo_api::live::Live,
    reminders: todo_api::server::reminders::ReminderClock,
}

/// The app's reminder poller, stopped when dropped.
pub struct ReminderPoller(tokio::task::JoinHandle<()>);

impl Drop for ReminderPoller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub const POOL: PoolSettings = PoolSettings {
    max_size: 4,
    // The hot reads go over shared connections, as in production.
    read_connections: 2,
    timeout: std::time::Duration::from_secs(5),
};

impl TestApp {
    /// The app as `main` builds it, on a new migrated database of `backend`;
    /// `None` when that backend is not available here.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, TokenVerifier::with_shared_secret(SECRET, 0)).await
    }

    /// The same, with a token verifier of the test's own.
    pub async fn spawn_with(backend: Backend, verifier: TokenVerifier) -> Option<Self> {
        Self::spawn_limited(backend, verifier, DEFAULT_MAX_TASKS_PER_USER).await
    }

    /// The same, letting each user keep at most `max_tasks` tasks.
    pub async fn spawn_limited(
        backend: Backend,
        verifier: TokenVerifier,
        max_tasks: u32,
    ) -> Option<Self> {
        let (db, database) = match backend {
            Backend::Postgres => {
                let database = postgres::server()?.create_database().await;
                let db = Database::postgres(&database.url, POOL).expect("pool");
                (db, TestDatabase::Postgres(database))
            }
            Backend::Sqlite => {
                let file = sqlite::TestFile::new();
                let db = Database::sqlite(&file.path, POOL).expect("pool");
                (db, TestDatabase::Sqlite(file))
            }
        };
        db.migrate().await.expect("migrations apply");
        db.connect_shared_reads().await;
        let mut app = Self::build(db, verifier, max_tasks);
        app._database = database;
        Some(app)
    }

    /// The app on a database the test made itself (kept alive by the caller).
    pub fn on_database(db: Database, verifier: TokenVerifier) -> Self {
        Self::build(db, verifier, DEFAULT_MAX_TASKS_PER_USER)
    }

    fn build(db: Database, verifier: TokenVerifier, max_tasks: u32) -> Self {
        let live = todo_api::live::Live::new(Default::default());
        let reminders = todo_api::server::reminders::ReminderClock::default();
        let state = AppState::new(Services {
            db: db.clone(),
            verifier: Arc::new(verifier),
            max_tasks_per_user: Some(max_tasks),
            idempotency: IdempotencySettings::new(std::time::Duration::from_secs(24 * 3600)),
            live: live.clone(),
            reminders: reminders.clone(),
            // Off: the suites' bursts of one user's requests are not what
            // they test (tests/api/rate_limits.rs tests the limits).
            limits: std::sync::Arc::new(todo_api::api::rate_limit::RateLimits::new(
                todo_api::api::rate_limit::RateLimitSettings {
                    per_user: None,
                    failures_per_address: None,
                },
            )),
            metrics: Some(todo_api::telemetry::recorder()),
        });
        let app = build_app(
            state,
            &[FRONTEND.to_owned()],
            std::time::Duration::from_secs(30),
            &["localhost".to_owned()],
        )
        .boxed();
        Self {
            client: TestClient::new(app),
            db,
            _database: TestDatabase::None,
            live,
            reminders,
        }
    }

    /// Runs the server's reminder poller for this app (as `todo-api` does),
    /// looking at least every `longest_sleep`.
    pub fn run_reminder_poller(&self, longest_sleep: std::time::Duration) -> ReminderPoller {
        ReminderPoller(todo_api::server::reminders::spawn(
            self.db.clone(),
            self.live.hub.clone(),
            self.reminders.clone(),
            longest_sleep,
            self.live.stop.clone(),
        ))
    }

    /// Any request: `token` as a bearer token, `body` as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.body_json(&body);
        }
        Reply::read(request.send().await.0).await
    }

    /// A GET whose response is not read: for event streams.
    pub async fn open(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.0
    }

    /// A request with raw headers and body, for malformed input.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<poem::Body>,
    ) -> Reply {
        let mut request = self.client.request(method, path).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.0).await
    }

    pub async fn create_task(&self, user: &TestUser, body: Value) -> Reply {
        self.send(
            Method::POST,
            &user.tasks_path(),
            Some(&user.token),
            Some(body),
        )
        .await
    }

    /// Creates a task that must succeed; returns it.
    pub async fn new_task(&self, user: &TestUser, title: &str) -> Value {
        self.create_task(user, json!({ "title": title }))
            .await
            .expect(201)
            .body
            .clone()
    }

    pub async fn list(&self, user: &TestUser, query: &str) -> Reply {
        let path = format!("{}{query}", user.tasks_path());
        self.send(Method::GET, &path, Some(&user.token), None).await
    }

    /// Titles of a successful listing, in order.
    pub async fn titles(&self, user: &TestUser, query: &str) -> Vec<String> {
        let reply = self.list(user, query).await;
        reply.expect(200);
        reply
            .body
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn get_task(&self, user: &TestUser, id: i64) -> Reply {
        self.send(Method::GET, &user.task_path(id), Some(&user.token), None)
            .await
    }

    pub async fn update_task(&self, user: &TestUser, id: i64, body: Value) -> Reply {
        self.send(
            Method::PUT,
            &user.task_path(id),
            Some(&user.token),
            Some(body),
        )
        .await
    }

    pub async fn delete_task(&self, user: &TestUser, id: i64) -> Reply {
        self.send(Method::DELETE, &user.task_path(id), Some(&user.token), None)
            .await
    }

    pub async fn complete_task(&self, user: &TestUser, id: i64, body: Option<Value>) -> Reply {
        let path = format!("{}/complete", user.task_path(id));
        self.send(Method::PATCH, &path, Some(&user.token), body)
            .await
    }
}

/// Every task route, as (method, path) for a user and a task id, with a valid body.
pub fn every_task_route(user: &str, id: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/api/{user}/tasks"), None),
        (
            Method::POST,
            format!("/api/{user}/tasks"),
            Some(json!({"title": "x"})),
        ),
        (Method::GET, format!("/api/{user}/tasks/{id}"), None),
        (
            Method::PUT,
            format!("/api/{user}/tasks/{id}"),
            Some(json!({"title": "y"})),
        ),
        (Method::DELETE, format!("/api/{user}/tasks/{id}"), None),
        (
            Method::PATCH,
            format!("/api/{user}/tasks/{id}/complete"),
            None,
        ),
    ]
}

/// The `rel="next"` target of a listing, if any.
pub fn next_of(reply: &Reply) -> Option<String> {
    let link = reply.header("link")?;
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    let target = link.strip_prefix('<')?.split('>').next()?.to_owned();
    assert!(target.starts_with("/api/"), "path-absolute: {target}");
    Some(target)
}

pub fn id_of(task: &Value) -> i64 {
    task["id"].as_i64().expect("a task has an integer id")
}
