//! Exactly one database statement per task request, counted by PostgreSQL
//! itself (pg_stat_statements) on a cluster of the test's own. Top-level
//! statements are what the server sends, so they are its round trips; the
//! change counter's upsert runs inside the writing statement (the SQL
//! function `next_change`), not as a statement of its own.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use poem::http::Method;
use serde_json::json;
use todo_api::{
    auth::TokenVerifier,
    db::{Database, PoolSettings},
};

use crate::support::{
    SECRET, TestApp, TestUser, id_of,
    postgres::{append_settings, own_cluster},
};

#[derive(diesel::QueryableByName)]
struct Calls {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    calls: i64,
}

/// Statements executed since the last reset, the statistics' own queries aside.
async fn statements(admin: &mut AsyncPgConnection) -> i64 {
    let row: Calls = diesel::sql_query(
        "SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements \
         WHERE query NOT ILIKE '%pg_stat_statements%'",
    )
    .get_result(admin)
    .await
    .unwrap();
    row.calls
}

#[derive(diesel::QueryableByName)]
struct Query {
    #[diesel(sql_type = diesel::sql_types::Text)]
    query: String,
}

/// The statements executed since the last reset, for a failure's message.
async fn executed(admin: &mut AsyncPgConnection) -> Vec<String> {
    let rows: Vec<Query> = diesel::sql_query(
        "SELECT calls || ' × ' || query AS query FROM pg_stat_statements \
         WHERE query NOT ILIKE '%pg_stat_statements%'",
    )
    .load(admin)
    .await
    .unwrap();
    rows.into_iter().map(|row| row.query).collect()
}

async fn reset(admin: &mut AsyncPgConnection) {
    diesel::sql_query("SELECT pg_stat_statements_reset()")
        .execute(admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_task_request_is_exactly_one_statement() {
    let Some(cluster) = own_cluster(|data| {
        append_settings(
            data,
            "shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = 'top'",
        )
    }) else {
        return;
    };
    let url = cluster.url("postgres");
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("CREATE EXTENSION pg_stat_statements")
        .execute(&mut admin)
        .await
        .unwrap();

    // One pooled connection, so no request pays for a new connection's setup.
    let db = Database::postgres(
        &url,
        PoolSettings {
            max_size: 1,
            read_connections: 1,
            timeout: std::time::Duration::from_secs(5),
        },
    )
    .unwrap();
    db.migrate().await.unwrap();
    let app = TestApp::on_database(db, TokenVerifier::with_shared_secret(SECRET, 0));
    let alice = TestUser::new("alice");
    let first = id_of(&app.new_task(&alice, "warm-up").await);
    let toggle = format!("{}/complete", alice.task_path(first));
    let requests: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, alice.tasks_path(), None),
        (
            Method::GET,
            format!("{}?status=pending&sort=title", alice.tasks_path()),
            None,
        ),
        (
            Method::GET,
            format!(
                "{}?tag=home&priority=high&priority=low&search=milk&due=week&tz=Europe/Berlin&sort=due,priority:asc&limit=2",
                alice.tasks_path()
            ),
            None,
        ),
        (
            Method::GET,
            format!("{}?sort=title&limit=1&offset=1", alice.tasks_path()),
            None,
        ),
        (
            Method::POST,
            alice.tasks_path(),
            Some(json!({"title": "counted"})),
        ),
        (
            Method::POST,
            alice.tasks_path(),
            Some(json!({
                "title": "counted too",
                "priority": "high",
                "tags": ["home"],
                "due": {"datetime": "2026-12-01T09:00", "time_zone": "Europe/Berlin"}
            })),
        ),
        (Method::GET, alice.task_path(first), None),
        (
            Method::PUT,
            alice.task_path(first),
            Some(json!({"title": "renamed", "description": null})),
        ),
        (Method::PATCH, toggle.clone(), None),
        (Method::PATCH, toggle, Some(json!({"completed": true}))),
        (Method::GET, alice.task_path(999_999), None),
        (
            Method::PUT,
            alice.task_path(first),
            Some(json!({"tags": ["a", "b"], "due": null, "priority": "low"})),
        ),
    ];
    // Warm up: statements are prepared once per connection, then reused.
    for (method, path, body) in &requests {
        app.send(method.clone(), path, Some(&alice.token), body.clone())
            .await;
    }
    for (method, path, body) in requests {
        reset(&mut admin).await;
        let reply = app
            .send(method.clone(), &path, Some(&alice.token), body)
            .await;
        assert!(
            reply.status.as_u16() < 500,
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(
            statements(&mut admin).await,
            1,
            "{method} {path} must be one statement: {:?}",
            executed(&mut admin).await
        );
    }
    // A cursor page is one statement too.
    let page = app.list(&alice, "?sort=title&limit=1").await;
    let link = page.header("link").expect("more than one task").to_owned();
    let next = link[1..link.find('>').unwrap()].to_owned();
    reset(&mut admin).await;
    app.send(Method::GET, &next, Some(&alice.token), None)
        .await
        .expect(200);
    assert_eq!(statements(&mut admin).await, 1, "a cursor page");
    // The total is the one exception: its count is a second statement.
    reset(&mut admin).await;
    let reply = app.list(&alice, "?include_total=true&limit=1").await;
    assert!(reply.header("x-total-count").is_some());
    assert_eq!(
        statements(&mut admin).await,
        2,
        "include_total=true: the page and the count"
    );
    // Safe writes (1.2).
    let etag = app
        .get_task(&alice, first)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let trash = "/api/alice/trash".to_owned();
    let bearer = format!("Bearer {}", alice.token);
    let keyed: &[(&str, &str)] = &[("idempotency-key", "rt-1")];
    let if_match: &[(&str, &str)] = &[("if-match", &etag)];
    for (method, path, headers, body, status, expected, what) in [
        (
            Method::PUT,
            alice.task_path(first),
            if_match,
            Some(r#"{"title":"a"}"#),
            200,
            1,
            "a PUT whose If-Match matches",
        ),
        // The write finds nothing, then a read tells 404 from 412.
        (
            Method::PUT,
            alice.task_path(first),
            if_match,
            Some(r#"{"title":"b"}"#),
            412,
            2,
            "a PUT whose If-Match fails",
        ),
        (
            Method::DELETE,
            alice.task_path(first),
            &[],
            None,
            204,
            1,
            "DELETE (to the trash)",
        ),
        (
            Method::GET,
            trash.clone(),
            &[],
            None,
            200,
            1,
            "the trash listing",
        ),
        (
            Method::POST,
            format!("{}/restore", alice.task_path(first)),
            &[],
            None,
            200,
            1,
            "a restore",
        ),
        (
            Method::DELETE,
            alice.task_path(first),
            &[],
            None,
            204,
            1,
            "DELETE again",
        ),
        (
            Method::DELETE,
            format!("{trash}/{first}"),
            &[],
            None,
            204,
            1,
            "a purge",
        ),
        (
            Method::DELETE,
            trash.clone(),
            &[],
            None,
            204,
            1,
            "emptying the trash",
        ),
        // The change feed after a number: the rows with the counter and the
        // retention mark, joined.
        (
            Method::GET,
            format!("/api/{}/changes?since=1", alice.id),
            &[],
            None,
            200,
            1,
            "the change feed",
        ),
        // A snapshot page: BEGIN, the counter, the tasks, COMMIT (a later
        // page adds the purges since the page before).
        (
            Method::GET,
            format!("/api/{}/changes?since=0", alice.id),
            &[],
            None,
            200,
            4,
            "the change feed's snapshot",
        ),
        (
            Method::GET,
            format!("/api/{}/changes?since=0&after=1.1", alice.id),
            &[],
            None,
            200,
            5,
            "a later snapshot page",
        ),
        // BEGIN, the key's lock, its lookup, the insert, the outcome, COMMIT.
        (
            Method::POST,
            alice.tasks_path(),
            keyed,
            Some(r#"{"title":"keyed"}"#),
            201,
            6,
            "a create with an Idempotency-Key",
        ),
        // BEGIN, the lock, the lookup that finds the outcome, ROLLBACK.
        (
            Method::POST,
            alice.tasks_path(),
            keyed,
            Some(r#"{"title":"keyed"}"#),
            201,
            4,
            "its replay",
        ),
    ] {
        let mut all: Vec<(&str, &str)> = vec![
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ];
        all.extend_from_slice(headers);
        reset(&mut admin).await;
        app.send_raw(method.clone(), &path, &all, body.unwrap_or(""))
            .await
            .expect(status);
        assert_eq!(
            statements(&mut admin).await,
            expected,
            "{what}: {method} {path}"
        );
    }
}
