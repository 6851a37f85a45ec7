//! `/metrics`: scraped from the binary after known requests, parsed, and the
//! counts checked, on both backends; bounded labels; off when asked.

use std::collections::BTreeMap;

use serde_json::json;

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

/// Prometheus text: `name{a="x",b="y"} value` lines, comments skipped, each
/// keyed by its name and its labels sorted.
fn parse(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let key = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => series.to_owned(),
            };
            (
                key,
                value.parse().unwrap_or_else(|_| panic!("a number: {line}")),
            )
        })
        .collect()
}

async fn scrape(server: &Server) -> (String, BTreeMap<String, f64>) {
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let page = response.text().await.unwrap();
    let parsed = parse(&page);
    (page, parsed)
}

async fn counts_after_known_requests(env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.push(("BETTER_AUTH_SECRET", SECRET));
    let server = Server::start(&scratch_dir(), &env);
    let alice = TestUser::new("alice-metrics-7");
    let http = reqwest::Client::new();
    let tasks = server.url(&format!("/api/{}/tasks", alice.id));
    for n in 0..3 {
        let created = http
            .post(&tasks)
            .bearer_auth(&alice.token)
            .json(&json!({"title": format!("t{n}")}));
        assert_eq!(created.send().await.unwrap().status(), 201);
    }
    for _ in 0..2 {
        assert_eq!(
            http.get(&tasks)
                .bearer_auth(&alice.token)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let missing = http
        .get(format!("{tasks}/999999"))
        .bearer_auth(&alice.token);
    assert_eq!(missing.send().await.unwrap().status(), 404);
    let forbidden = http
        .get(server.url("/api/bob/tasks"))
        .bearer_auth(&alice.token);
    assert_eq!(forbidden.send().await.unwrap().status(), 403);
    assert_eq!(http.get(&tasks).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(server.url("/no/such/route"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let tool = http
        .post(server.url("/mcp"))
        .bearer_auth(&alice.token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "add_task", "arguments": {"user_id": alice.id, "title": "via mcp"}}}));
    assert_eq!(tool.send().await.unwrap().status(), 200);

    let (page, metrics) = scrape(&server).await;
    let count = |key: &str| {
        metrics
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("no {key} in\n{page}"))
    };
    assert_eq!(
        count(r#"http_requests_total{operation="create_task",status="201"}"#),
        3.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="list_tasks",status="200"}"#),
        2.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="list_tasks",status="401"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="list_tasks",status="403"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="get_task",status="404"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="unmatched",status="404"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_requests_total{operation="mcp",status="200"}"#),
        1.0
    );
    assert_eq!(
        count(r#"mcp_tool_calls_total{outcome="ok",tool="add_task"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_request_duration_seconds_count{operation="list_tasks"}"#),
        4.0
    );
    assert_eq!(
        count(r#"http_request_duration_seconds_bucket{le="+Inf",operation="create_task"}"#),
        3.0
    );
    assert!(count(r#"http_request_duration_seconds_sum{operation="create_task"}"#) > 0.0);
    assert_eq!(count("db_pool_max_size"), 16.0);
    assert!(count("db_pool_size") >= 1.0);
    assert_eq!(count("db_pool_in_use"), 0.0);
    assert_eq!(count("db_pool_waiting"), 0.0);
    assert_eq!(count("live_event_streams"), 0.0);
    // Bounded labels: no user id, no raw path.
    for leak in [alice.id.as_str(), "/no/such/route", "/api/", "bob"] {
        assert!(!page.contains(leak), "{leak:?} is in /metrics");
    }
    // A second scrape counts the first.
    let (_, again) = scrape(&server).await;
    assert_eq!(
        again[r#"http_requests_total{operation="metrics",status="200"}"#],
        1.0
    );
    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}

#[tokio::test]
async fn metrics_count_known_requests_on_sqlite() {
    counts_after_known_requests(&[]).await;
}

#[tokio::test]
async fn metrics_count_known_requests_on_postgres() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    counts_after_known_requests(&[("DATABASE_URL", &database.url)]).await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let server = Server::start(
        &scratch_dir(),
        &[("BETTER_AUTH_SECRET", SECRET), ("METRICS_ENABLED", "false")],
    );
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 404);
}
