//! Reminders fire exactly once across instances: three `todo-api` binaries
//! on one database, 1 000 reminders due within five seconds, one instance
//! killed with SIGKILL while they fire. Every reminder is in the feed once,
//! none twice, no other; the lateness (when it fired − when it was for) is
//! printed. On PostgreSQL (rounds lock owners' counters with SKIP LOCKED)
//! and on one SQLite file shared by the three processes (BEGIN IMMEDIATE).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

const USERS: usize = 20;
const REMINDERS: usize = 1000;
/// The reminders are due in this many consecutive seconds,
const SPREAD_SECS: usize = 5;
/// starting this long after the test starts creating them: creating them
/// takes 2–5 s alone and more under the whole suite's load on two cores (a
/// CI run took longer than 8 s on SQLite); a reminder whose moment is past
/// when it is written never fires, so the lead is generous.
const LEAD_SECS: i64 = 20;

/// Every change of `user`'s after `since`, through `server`.
async fn log_of(http: &reqwest::Client, server: &Server, user: &TestUser) -> Vec<Value> {
    let mut changes = Vec::new();
    let mut next = Some(server.url(&format!("/api/{}/changes?since=1&limit=500", user.id)));
    while let Some(url) = next {
        let response = http
            .get(&url)
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Some(server.url(&l[l.find('<')? + 1..l.find('>')?])));
        changes.extend(response.json::<Vec<Value>>().await.unwrap());
    }
    changes
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn exactly_once(env: &[(&str, &str)]) {
    let mut servers: Vec<Option<Server>> = (0..3)
        .map(|_| Some(Server::start(&scratch_dir(), env)))
        .collect();
    let users: Vec<TestUser> = (0..USERS)
        .map(|i| TestUser::new(&format!("user{i}")))
        .collect();
    let http = reqwest::Client::new();
    // Every user's first task, so the reminders' own tasks are in the log.
    for user in &users {
        let url = servers[0].as_ref().unwrap().url(&user.tasks_path());
        let response = http
            .post(url)
            .bearer_auth(&user.token)
            .json(&json!({"title": "first"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    // 1 000 tasks through all three instances, each with one reminder due in
    // one of five consecutive seconds starting LEAD_SECS from now.
    let start = Utc::now().timestamp() + LEAD_SECS;
    let due_at: Vec<String> = (0..REMINDERS)
        .map(|i| {
            DateTime::from_timestamp(start + (i % SPREAD_SECS) as i64, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .collect();
    let created = Instant::now();
    let urls: Vec<String> = (0..3)
        .map(|s| servers[s].as_ref().unwrap().url(""))
        .collect();
    let ids: Vec<(usize, i64)> = stream::iter(0..REMINDERS)
        .map(|i| {
            let (http, user) = (&http, &users[i % USERS]);
            let url = format!("{}{}", urls[i % 3], user.tasks_path());
            let body = json!({"title": format!("reminder {i}"), "reminders": [{"at": due_at[i]}]});
            async move {
                let response = http
                    .post(url)
                    .bearer_auth(&user.token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let task: Value = response.json().await.unwrap();
                (i, task["id"].as_i64().unwrap())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let created = created.elapsed();
    assert!(
        created < Duration::from_secs(LEAD_SECS as u64 - 1),
        "creating the tasks took {created:?}: the first reminders were due before they existed"
    );
    let expected: HashMap<i64, usize> = ids.into_iter().map(|(i, id)| (id, i)).collect();

    // Mid-way (two of the five seconds fired), the first instance dies hard.
    let kill_at = DateTime::from_timestamp(start + 2, 0).unwrap();
    tokio::time::sleep((kill_at - Utc::now()).to_std().unwrap_or_default()).await;
    let victim = servers[0].take().unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", &victim.pid().to_string()])
        .status()
        .unwrap();
    drop(victim);

    // Every reminder fired, each once, none other; read through a survivor.
    let reader = servers[1].as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let fired = loop {
        let mut fired: Vec<Value> = Vec::new();
        for user in &users {
            fired.extend(
                log_of(&http, reader, user)
                    .await
                    .into_iter()
                    .filter(|change| change["type"] == "reminder"),
            );
        }
        if fired.len() >= REMINDERS || Instant::now() > deadline {
            break fired;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut times: HashMap<i64, usize> = HashMap::new();
    let mut lateness: Vec<i64> = Vec::new();
    for change in &fired {
        let id = change["task"]["id"].as_i64().unwrap();
        let i = *expected
            .get(&id)
            .unwrap_or_else(|| panic!("a reminder of a task that has none: {change}"));
        assert_eq!(
            change["reminder"]["at"],
            format!("{}.000000Z", &due_at[i][..19])
        );
        *times.entry(id).or_default() += 1;
        lateness
            .push((instant(&change["at"]) - instant(&change["reminder"]["at"])).num_milliseconds());
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "fired more than once: {twice:?}");
    assert_eq!(times.len(), REMINDERS, "reminders that never fired");
    lateness.sort_unstable();
    let at = |q: f64| lateness[((lateness.len() - 1) as f64 * q) as usize];
    println!(
        "{REMINDERS} reminders over {SPREAD_SECS} s, 3 instances, one SIGKILLed at +2 s: \
         each fired once; lateness p50 {} ms, p99 {} ms, max {} ms (tasks created in {created:?})",
        at(0.5),
        at(0.99),
        lateness.last().unwrap()
    );
    assert!(*lateness.first().unwrap() >= 0, "a reminder fired early");
    assert!(
        *lateness.last().unwrap() < 15_000,
        "a reminder was {} ms late",
        lateness.last().unwrap()
    );
}

#[tokio::test]
async fn postgres_reminders_fire_exactly_once_across_three_instances_one_killed() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    exactly_once(&[
        ("DATABASE_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[tokio::test]
async fn sqlite_reminders_fire_exactly_once_across_three_processes_one_killed() {
    let dir = scratch_dir();
    let path = dir.join("shared.db");
    exactly_once(&[
        ("SQLITE_PATH", path.to_str().unwrap()),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}
