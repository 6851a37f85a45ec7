//! A 201 means the row is committed. Black-box: concurrent writers against
//! the real binary while PostgreSQL backends are killed with SIGKILL and the
//! whole cluster crashes (`pg_ctl stop -m immediate`) and restarts; then every
//! acknowledged id must be in the table, and every stored row must belong to
//! a request that was acknowledged or failed (a 503 may have committed: the
//! answer was lost, not the row).

use std::{
    collections::{HashMap, HashSet},
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use poem::http::Method;
use serde_json::json;
use todo_api::{auth::TokenVerifier, db::Database};

use crate::{
    binary::{Server, all_tasks, scratch_dir},
    support::{
        POOL, SECRET, TestApp, TestUser, id_of,
        postgres::{self, Cluster, own_cluster},
    },
};

const WRITERS: usize = 16;
/// Backends killed with SIGKILL (each makes PostgreSQL reset every session).
const BACKEND_KILLS: usize = 10;
/// Whole-cluster crashes (`-m immediate`) and restarts, between the kills.
const CRASH_RESTARTS: usize = 3;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "[durability] {line}");
}

/// One POST: the unique title it sent, the status (0: no HTTP answer) and
/// the id a 201 carried.
struct Outcome {
    title: String,
    status: u16,
    id: Option<i64>,
}

/// Writes as `writer-{writer}` until `stop`, titles `{tag}w{writer}-{i}`.
async fn write_until(
    stop: Arc<AtomicBool>,
    base: String,
    writer: usize,
    tag: &'static str,
) -> Vec<Outcome> {
    let user = TestUser::new(&format!("writer-{writer}"));
    let url = format!("{base}{}", user.tasks_path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut outcomes = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let title = format!("{tag}w{writer}-{i}");
        let sent = http
            .post(&url)
            .bearer_auth(&user.token)
            .json(&json!({ "title": title }))
            .send()
            .await;
        let (status, id) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                (status, body["id"].as_i64())
            }
            Err(_) => (0, None),
        };
        outcomes.push(Outcome { title, status, id });
    }
    outcomes
}

/// Waits until the cluster answers again after a crash.
fn wait_until_up(cluster: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.sql("postgres", "SELECT 1").is_err() {
        assert!(Instant::now() < deadline, "the cluster did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a backend that is running a statement (one of the server's, in the
/// middle of a write), or any client backend when none is.
fn kill_a_backend(cluster: &Cluster) -> bool {
    let pids = cluster
        .sql(
            "postgres",
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' \
             AND pid <> pg_backend_pid() ORDER BY state = 'active' DESC, random() LIMIT 1",
        )
        .unwrap_or_default();
    let Some(pid) = pids.lines().next().filter(|pid| !pid.is_empty()) else {
        return false;
    };
    std::process::Command::new("kill")
        .args(["-KILL", pid])
        .status()
        .is_ok_and(|status| status.success())
}

/// Kills `BACKEND_KILLS` backends and crashes the cluster `CRASH_RESTARTS`
/// times, a second apart, while the writers write; returns what it did.
async fn inject_faults(cluster: Arc<Cluster>) -> (usize, usize) {
    tokio::task::spawn_blocking(move || {
        let (mut kills, mut crashes) = (0, 0);
        std::thread::sleep(Duration::from_millis(800));
        let every = BACKEND_KILLS / CRASH_RESTARTS + 1;
        for round in 1..=BACKEND_KILLS + CRASH_RESTARTS {
            if round % every == 0 && crashes < CRASH_RESTARTS {
                cluster.stop_immediately().unwrap();
                cluster.start_again().unwrap();
                crashes += 1;
            } else {
                // Right after a crash the pool may hold no connection
                // yet: wait for one to kill.
                let deadline = Instant::now() + Duration::from_secs(10);
                while !kill_a_backend(&cluster) {
                    assert!(Instant::now() < deadline, "no backend to kill");
                    std::thread::sleep(Duration::from_millis(50));
                }
                kills += 1;
            }
            wait_until_up(&cluster);
            // Long enough for the pool to reconnect and writes to flow.
            std::thread::sleep(Duration::from_millis(900));
        }
        (kills, crashes)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_killed_backends_and_crash_restarts() {
    let Some(mut cluster) = own_cluster(|_| Ok(())) else {
        return;
    };
    cluster.make_durable().unwrap();
    let cluster = Arc::new(cluster);
    let server = Server::start(
        &scratch_dir(),
        &[
            ("DATABASE_URL", &cluster.url("postgres")),
            ("BETTER_AUTH_SECRET", SECRET),
            ("DB_TIMEOUT_SECS", "2"),
        ],
    );

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_until(Arc::clone(&stop), server.url(""), w, "")))
        .collect();
    let (kills, crashes) = inject_faults(Arc::clone(&cluster)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.unwrap());
    }

    let stored: HashMap<String, i64> = cluster
        .sql("postgres", "SELECT title, id FROM tasks")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let (title, id) = line.split_once('|')?;
            Some((title.to_owned(), id.parse().ok()?))
        })
        .collect();
    let acknowledged: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 201).collect();
    let lost: Vec<&str> = acknowledged
        .iter()
        .filter(|o| o.id.is_none() || stored.get(&o.title) != o.id.as_ref())
        .map(|o| o.title.as_str())
        .collect();
    let failed: HashSet<&str> = outcomes
        .iter()
        .filter(|o| o.status == 503 || o.status == 0)
        .map(|o| o.title.as_str())
        .collect();
    let acknowledged_titles: HashSet<&str> =
        acknowledged.iter().map(|o| o.title.as_str()).collect();
    let unacknowledged: Vec<&str> = stored
        .keys()
        .map(String::as_str)
        .filter(|title| !acknowledged_titles.contains(title))
        .collect();
    let committed_despite_503 = unacknowledged
        .iter()
        .filter(|title| failed.contains(*title))
        .count();
    let unexplained: Vec<&&str> = unacknowledged
        .iter()
        .filter(|title| !failed.contains(*title))
        .collect();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for outcome in &outcomes {
        *statuses.entry(outcome.status).or_default() += 1;
    }
    report(&format!(
        "{} writes from {WRITERS} writers through {kills} killed backends and {crashes} crash restarts: \
         statuses {statuses:?}; {} acknowledged, {} of them missing; {} rows stored, \
         {committed_despite_503} of them for requests answered 503 (committed, answer lost)",
        outcomes.len(),
        acknowledged.len(),
        lost.len(),
        stored.len(),
    ));

    assert_eq!(
        kills + crashes,
        BACKEND_KILLS + CRASH_RESTARTS,
        "every fault happened"
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged writes are not in the table: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(
        unexplained.is_empty(),
        "rows stored for requests that were neither acknowledged nor failed: {unexplained:?}"
    );
    assert!(
        statuses.keys().all(|s| *s == 201 || *s == 503),
        "every write ends in 201 or 503: {statuses:?}"
    );
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "the faults were felt (otherwise this test proves nothing)"
    );
    assert!(
        acknowledged.len() > 1000,
        "the writers kept writing between faults"
    );
    assert_eq!(server.terminate().0, 0);
}

/// One create sent with an `Idempotency-Key` and retried with that key
/// until it is answered 201: the title (also its key), every status it got.
struct KeyedWrite {
    title: String,
    statuses: Vec<u16>,
    /// Whether the 201 was a replay: an earlier attempt had committed.
    replayed: bool,
}

/// Like `write_until`, but every create carries a key and is retried after
/// a 503, a 409 (its first attempt still running) or no answer at all, as a
/// frontend on a flaky connection would, until it is acknowledged.
async fn write_with_keys_until(
    stop: Arc<AtomicBool>,
    base: String,
    writer: usize,
) -> Vec<KeyedWrite> {
    let user = TestUser::new(&format!("keyed-{writer}"));
    let url = format!("{base}{}", user.tasks_path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut writes = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let title = format!("kw{writer}-{i}");
        let mut statuses = Vec::new();
        let mut replayed = false;
        let give_up = Instant::now() + Duration::from_secs(60);
        while Instant::now() < give_up {
            let sent = http
                .post(&url)
                .bearer_auth(&user.token)
                .header("idempotency-key", &title)
                .json(&json!({ "title": title }))
                .send()
                .await;
            let status = sent.map_or(0, |response| {
                replayed = response.headers().contains_key("idempotent-replayed");
                response.status().as_u16()
            });
            statuses.push(status);
            if status == 201 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        writes.push(KeyedWrite {
            title,
            statuses,
            replayed,
        });
    }
    writes
}

/// Clients that retry with an `Idempotency-Key` through killed backends and
/// crash restarts: every create ends acknowledged, and exactly once — never
/// lost, never made twice, although some of their attempts were answered
/// 503 after committing (the record of the key committed with the task).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_with_an_idempotency_key_create_each_task_exactly_once_through_faults() {
    let Some(mut cluster) = own_cluster(|_| Ok(())) else {
        return;
    };
    cluster.make_durable().unwrap();
    let cluster = Arc::new(cluster);
    let server = Server::start(
        &scratch_dir(),
        &[
            ("DATABASE_URL", &cluster.url("postgres")),
            ("BETTER_AUTH_SECRET", SECRET),
            ("DB_TIMEOUT_SECS", "2"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_with_keys_until(Arc::clone(&stop), server.url(""), w)))
        .collect();
    let (kills, crashes) = inject_faults(Arc::clone(&cluster)).await;
    stop.store(true, Ordering::Relaxed);
    let mut writes = Vec::new();
    for writer in writers {
        writes.extend(writer.await.unwrap());
    }

    let mut rows: HashMap<String, usize> = HashMap::new();
    for title in cluster
        .sql("postgres", "SELECT title FROM tasks")
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
    {
        *rows.entry(title.to_owned()).or_default() += 1;
    }
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for status in writes.iter().flat_map(|w| &w.statuses) {
        *statuses.entry(*status).or_default() += 1;
    }
    let retried = writes.iter().filter(|w| w.statuses.len() > 1).count();
    let replayed = writes.iter().filter(|w| w.replayed).count();
    let unacknowledged: Vec<&str> = writes
        .iter()
        .filter(|w| w.statuses.last() != Some(&201))
        .map(|w| w.title.as_str())
        .collect();
    let not_once: Vec<(&str, usize)> = writes
        .iter()
        .map(|w| (w.title.as_str(), rows.get(&w.title).copied().unwrap_or(0)))
        .filter(|(_, count)| *count != 1)
        .collect();
    report(&format!(
        "{} keyed creates from {WRITERS} writers through {kills} killed backends and {crashes} crash \
         restarts: attempts by status {statuses:?}; {retried} creates retried, {replayed} of them \
         answered by a replay (an attempt that failed had committed); {} rows stored; \
         {} not stored exactly once; {} never acknowledged",
        writes.len(),
        rows.values().sum::<usize>(),
        not_once.len(),
        unacknowledged.len(),
    ));
    assert_eq!(
        kills + crashes,
        BACKEND_KILLS + CRASH_RESTARTS,
        "every fault happened"
    );
    assert!(
        unacknowledged.is_empty(),
        "retries ended without a 201: {unacknowledged:?}"
    );
    assert!(
        not_once.is_empty(),
        "stored other than exactly once: {not_once:?}"
    );
    assert_eq!(
        rows.values().sum::<usize>(),
        writes.len(),
        "no row without its create"
    );
    assert!(
        retried > 0,
        "the faults made clients retry (otherwise this proves nothing)"
    );
    assert!(
        statuses.keys().all(|s| [0, 201, 409, 503].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(server.terminate().0, 0);
}

/// PostgreSQL can refuse a commit after the statement produced its
/// `RETURNING` row (here a deferred constraint trigger; in life a
/// serialization failure, a full disk or a backend killed at that moment).
/// The answer must wait for the commit's outcome: no write is acknowledged
/// unless it is stored.
#[tokio::test]
async fn a_write_whose_commit_fails_is_never_acknowledged() {
    use diesel::sql_query;
    use diesel_async::RunQueryDsl;
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    let db = Database::postgres(&database.url, POOL).unwrap();
    db.migrate().await.unwrap();
    let mut admin = AsyncPgConnection::establish(&database.url).await.unwrap();
    for sql in [
        "CREATE TABLE sabotage (on_commit boolean)",
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF EXISTS (SELECT FROM sabotage) THEN RAISE EXCEPTION 'refused at commit'; \
         END IF; RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE OR DELETE ON tasks \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()",
    ] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut admin)
            .await
            .unwrap();
    }
    let app = TestApp::on_database(db, TokenVerifier::with_shared_secret(SECRET, 0));
    let alice = TestUser::new("alice");
    let task = app.new_task(&alice, "before").await;
    let id = id_of(&task);

    sql_query("INSERT INTO sabotage VALUES (true)")
        .execute(&mut admin)
        .await
        .unwrap();
    let attempts = [
        (
            Method::POST,
            alice.tasks_path(),
            Some(json!({"title": "never stored"})),
        ),
        (
            Method::PUT,
            alice.task_path(id),
            Some(json!({"title": "never stored"})),
        ),
        (
            Method::PATCH,
            format!("{}/complete", alice.task_path(id)),
            None,
        ),
        (
            Method::PATCH,
            format!("{}/complete", alice.task_path(id)),
            Some(json!({"completed": true})),
        ),
        (Method::DELETE, alice.task_path(id), None),
    ];
    for (method, path, body) in attempts {
        let reply = app
            .send(method.clone(), &path, Some(&alice.token), body)
            .await;
        assert!(
            !reply.status.is_success(),
            "{method} {path} was acknowledged ({}) but its commit failed: {}",
            reply.status,
            reply.body
        );
    }
    sql_query("DELETE FROM sabotage")
        .execute(&mut admin)
        .await
        .unwrap();
    let list = app.list(&alice, "").await;
    list.expect(200);
    assert_eq!(list.body, json!([task]), "nothing changed");
    drop(database);
}

/// The embedded SQLite: the server itself is killed with SIGKILL in the
/// middle of concurrent writes, five times, and restarted on the same file.
/// Every write it acknowledged is there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_every_acknowledged_write_survives_the_server_being_killed() {
    let dir = scratch_dir();
    let env = [("BETTER_AUTH_SECRET", SECRET)];
    let mut outcomes = Vec::new();
    for round in ["a", "b", "c", "d", "e"] {
        let server = Server::start(&dir, &env);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..8)
            .map(|w| tokio::spawn(write_until(Arc::clone(&stop), server.url(""), w, round)))
            .collect();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        // SIGKILL, with writes in flight (Server's drop kills it).
        drop(server);
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            outcomes.extend(writer.await.unwrap());
        }
    }
    let server = Server::start(&dir, &env);
    let http = reqwest::Client::new();
    let mut stored = HashMap::new();
    for w in 0..8 {
        let user = TestUser::new(&format!("writer-{w}"));
        let (status, tasks) = all_tasks(&http, &server.url(&user.tasks_path()), &user.token).await;
        assert_eq!(status, 200);
        for task in tasks.as_array().unwrap() {
            stored.insert(task["title"].as_str().unwrap().to_owned(), id_of(task));
        }
    }
    let acknowledged: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 201).collect();
    let lost = acknowledged
        .iter()
        .filter(|o| stored.get(&o.title) != o.id.as_ref())
        .count();
    let cut_off = outcomes.iter().filter(|o| o.status == 0).count();
    report(&format!(
        "SQLite, server killed 5 times mid-write: {} writes, {} acknowledged, {lost} of them missing, \
         {cut_off} cut off by the kill, {} rows stored",
        outcomes.len(),
        acknowledged.len(),
        stored.len()
    ));
    assert_eq!(lost, 0, "every acknowledged write survived");
    assert!(cut_off > 0, "the kills hit writes in flight");
    assert!(
        stored.len() <= acknowledged.len() + cut_off,
        "no row appeared that no request asked for"
    );
    assert_eq!(server.terminate().0, 0);
}
