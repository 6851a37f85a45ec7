//! Safe writes across processes: several server instances on one
//! PostgreSQL, a restart in between, and the server's own periodic purge.
//! Real binaries over HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    binary::{Server, all_tasks, call, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

/// POST a task with an `Idempotency-Key`: status, `Idempotent-Replayed`, body.
async fn create_with_key(
    http: &reqwest::Client,
    server: &Server,
    user: &TestUser,
    key: &str,
    title: &str,
) -> (u16, Option<String>, Value) {
    let response = http
        .post(server.url(&format!("/api/{}/tasks", user.id)))
        .bearer_auth(&user.token)
        .header("idempotency-key", key)
        .json(&json!({ "title": title }))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_retries_spread_over_two_instances_create_one_task() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
    ];
    let (one, two) = (
        Server::start(&scratch_dir(), &env),
        Server::start(&scratch_dir(), &env),
    );
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    let retries =
        (0..50).map(|i| {
            let (http, alice) = (&http, &alice);
            let server = if i % 2 == 0 { &one } else { &two };
            async move {
                create_with_key(http, server, alice, "across-1", "bought on two servers").await
            }
        });
    let replies = futures::future::join_all(retries).await;
    let mut first = None;
    let mut statuses = std::collections::BTreeMap::new();
    for (status, replayed, body) in &replies {
        *statuses.entry(*status).or_insert(0) += 1;
        match status {
            201 if replayed.is_none() => assert!(first.replace(body.clone()).is_none(), "two ran"),
            201 => {}
            409 => {}
            other => panic!("a retry answered {other}: {body}"),
        }
    }
    let first = first.expect("one request ran");
    assert!(
        replies.iter().filter(|r| r.0 == 201).all(|r| r.2 == first),
        "every 201 is that task"
    );
    let (status, tasks) = all_tasks(&http, &one.url("/api/alice/tasks"), &alice.token).await;
    assert_eq!(
        (status, tasks.as_array().unwrap().len()),
        (200, 1),
        "{statuses:?}"
    );
    println!("50 retries over two instances: {statuses:?} (201s include replays), 1 task stored");
    // And from the other instance, later: the stored answer.
    let (status, replayed, body) =
        create_with_key(&http, &two, &alice, "across-1", "bought on two servers").await;
    assert_eq!(
        (status, replayed.as_deref(), body),
        (201, Some("true"), first)
    );
}

async fn a_key_outlives_a_restart(env: &[(&str, &str)], dir: &std::path::Path) {
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    let server = Server::start(dir, env);
    let (status, _, first) = create_with_key(&http, &server, &alice, "restart-1", "once").await;
    assert_eq!(status, 201, "{first}");
    let (code, log) = server.terminate();
    assert_eq!(code, 0, "{log:?}");
    let server = Server::start(dir, env);
    let (status, replayed, again) =
        create_with_key(&http, &server, &alice, "restart-1", "once").await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again, first);
    let (_, tasks) = all_tasks(&http, &server.url("/api/alice/tasks"), &alice.token).await;
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    // The key with another request is still refused after the restart.
    let (status, _, problem) = create_with_key(&http, &server, &alice, "restart-1", "twice").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_an_idempotency_key_outlives_a_restart() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
    ];
    a_key_outlives_a_restart(&env, &scratch_dir()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_an_idempotency_key_outlives_a_restart() {
    let env = [("SQLITE_PATH", "tasks.db"), ("BETTER_AUTH_SECRET", SECRET)];
    a_key_outlives_a_restart(&env, &scratch_dir()).await;
}

/// With `TRASH_RETENTION_DAYS=0` and a one-second maintenance interval, a
/// trashed task is purged by the server itself, on every instance at once
/// without errors, and a live task is never touched.
async fn the_server_purges_the_trash_by_itself(envs: [Vec<(&str, &str)>; 2]) {
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    let servers: Vec<Server> = envs
        .iter()
        .map(|env| Server::start(&scratch_dir(), env))
        .collect();
    let base = servers[0].url(&format!("/api/{}", alice.id));
    let mut ids = Vec::new();
    for title in ["kept", "trashed 1", "trashed 2"] {
        let (status, task) = call(
            http.post(format!("{base}/tasks"))
                .bearer_auth(&alice.token)
                .json(&json!({"title": title})),
        )
        .await;
        assert_eq!(status, 201);
        ids.push(task["id"].as_i64().unwrap());
    }
    for id in &ids[1..] {
        let (status, _) = call(
            http.delete(format!("{base}/tasks/{id}"))
                .bearer_auth(&alice.token),
        )
        .await;
        assert_eq!(status, 204);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, trash) =
            call(http.get(format!("{base}/trash")).bearer_auth(&alice.token)).await;
        assert_eq!(status, 200);
        if trash == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "still in the trash: {trash}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, tasks) = all_tasks(&http, &servers[0].url("/api/alice/tasks"), &alice.token).await;
    let titles: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["kept"]);
    for id in &ids[1..] {
        let (status, _) = call(
            http.post(format!("{base}/tasks/{id}/restore"))
                .bearer_auth(&alice.token),
        )
        .await;
        assert_eq!(status, 404, "purged for good");
    }
    for server in servers {
        let logs = server.logs();
        assert!(
            !logs
                .iter()
                .any(|l| l.contains("ERROR") || (l.contains("WARN") && l.contains("maintenance"))),
            "the purge ran cleanly on every instance: {logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_two_instances_purge_the_trash_by_themselves() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    let env = vec![
        ("DATABASE_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
        ("TRASH_RETENTION_DAYS", "0"),
        ("MAINTENANCE_INTERVAL_SECS", "1"),
    ];
    the_server_purges_the_trash_by_itself([env.clone(), env]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_the_server_purges_the_trash_by_itself() {
    let dir = scratch_dir();
    let path = dir.join("tasks.db");
    let path = path.to_str().unwrap();
    let env = vec![
        ("SQLITE_PATH", path),
        ("BETTER_AUTH_SECRET", SECRET),
        ("TRASH_RETENTION_DAYS", "0"),
        ("MAINTENANCE_INTERVAL_SECS", "1"),
    ];
    the_server_purges_the_trash_by_itself([env.clone(), env]).await;
}

/// A phone that gives up on every first attempt (after 1 to 8 ms, around
/// the time the answer takes) and retries with the same key: each create is stored exactly
/// once, and the retries that find the first attempt committed get its
/// answer back instead of a second task.
async fn impatient_clients_create_each_task_once(env: &[(&str, &str)]) {
    const CREATES: usize = 60;
    let server = Server::start(&scratch_dir(), env);
    let alice = TestUser::new("alice");
    let url = server.url("/api/alice/tasks");
    let impatient: Vec<reqwest::Client> = (1..=8)
        .map(|ms| {
            reqwest::Client::builder()
                .timeout(Duration::from_millis(ms))
                .build()
                .unwrap()
        })
        .collect();
    let patient = reqwest::Client::new();
    let (mut replayed, mut gave_up) = (0, 0);
    for i in 0..CREATES {
        let (key, title) = (format!("phone-{i}"), format!("task {i}"));
        let first = impatient[i % impatient.len()]
            .post(&url)
            .bearer_auth(&alice.token)
            .header("idempotency-key", &key)
            .json(&json!({ "title": title }))
            .send()
            .await;
        match first {
            Ok(response) if response.status() == 201 => continue,
            Ok(response) => panic!("a first attempt answered {}", response.status()),
            Err(_) => gave_up += 1,
        }
        loop {
            let (status, again, _) = create_with_key(&patient, &server, &alice, &key, &title).await;
            match status {
                201 => {
                    replayed += usize::from(again.is_some());
                    break;
                }
                409 => tokio::time::sleep(Duration::from_millis(20)).await,
                other => panic!("a retry answered {other}"),
            }
        }
    }
    let (_, tasks) = all_tasks(&patient, &url, &alice.token).await;
    let mut titles: Vec<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles.dedup();
    println!(
        "{CREATES} creates, {gave_up} first attempts abandoned by the client, {replayed} retries \
         answered by a replay (the abandoned attempt had committed), {} tasks stored",
        tasks.as_array().unwrap().len()
    );
    assert_eq!(
        tasks.as_array().unwrap().len(),
        CREATES,
        "each exactly once"
    );
    assert_eq!(titles.len(), CREATES);
    assert!(
        gave_up > 0,
        "the client did give up (otherwise this proves nothing)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_impatient_clients_that_retry_create_each_task_once() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    impatient_clients_create_each_task_once(&[
        ("DATABASE_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_impatient_clients_that_retry_create_each_task_once() {
    impatient_clients_create_each_task_once(&[
        ("SQLITE_PATH", "tasks.db"),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}
