//! Live changes across processes: several `todo-api` binaries on one
//! PostgreSQL (two listening over NEON_DIRECT_URL, one polling), streams on
//! each, concurrent writers on all of them, PostgreSQL restarted under them;
//! and a stream's end at token expiry and at SIGTERM. Real binaries over HTTP.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, events::Events, now, postgres, sign},
};

/// Opens `user`'s event stream on `server` from `since`.
async fn open_stream(
    http: &reqwest::Client,
    server: &Server,
    user: &TestUser,
    since: i64,
) -> Events {
    let response = http
        .get(server.url(&format!("/api/{}/events?since={since}", user.id)))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    Events::of_reqwest(response)
}

/// Every change of `user`'s log, from the first, as the feed serves them.
async fn whole_log(http: &reqwest::Client, server: &Server, user: &TestUser) -> Vec<Value> {
    // The first change of every user is the creation of their first task,
    // number 1; `since=1` and on is the log proper.
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

/// Writes that had to be retried (the database was away).
static RETRIED: AtomicUsize = AtomicUsize::new(0);

/// A write that retries while the database is away (503) or the server is
/// busy, up to a minute: the status it ended with.
async fn write(http: &reqwest::Client, request: impl Fn() -> reqwest::RequestBuilder) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = match request().send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        };
        if (status != 503 && status != 0) || Instant::now() > deadline {
            return status;
        }
        RETRIED.fetch_add(1, Ordering::SeqCst);
        let _ = http;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_on_three_instances_get_every_change_once_in_order_through_a_postgres_restart() {
    const USERS: usize = 2;
    const WRITERS_PER_USER: usize = 3;
    const OPS: usize = 150;
    let Some(cluster) = postgres::own_cluster(|_| Ok(())) else {
        return;
    };
    cluster.sql("postgres", "CREATE DATABASE live").unwrap();
    let url = cluster.url("live");
    let listening = [
        ("DATABASE_URL", url.as_str()),
        ("NEON_DIRECT_URL", url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
        ("DB_TIMEOUT_SECS", "2"),
    ];
    let polling = [
        ("DATABASE_URL", url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
        ("EVENTS_POLL_MS", "200"),
        ("DB_TIMEOUT_SECS", "2"),
    ];
    let servers = Arc::new([
        Server::start(&scratch_dir(), &listening),
        Server::start(&scratch_dir(), &listening),
        Server::start(&scratch_dir(), &polling),
    ]);
    let users: Vec<TestUser> = (0..USERS)
        .map(|i| TestUser::new(&format!("user{i}")))
        .collect();
    let http = reqwest::Client::new();

    // One stream per user on every instance, from the very start.
    let mut readers = Vec::new();
    let targets: Arc<Vec<AtomicI64>> =
        Arc::new((0..USERS).map(|_| AtomicI64::new(i64::MAX)).collect());
    for (u, user) in users.iter().enumerate() {
        for (s, server) in servers.iter().enumerate() {
            let mut events = open_stream(&http, server, user, 0).await;
            let targets = Arc::clone(&targets);
            readers.push(tokio::spawn(async move {
                let mut received = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let target = targets[u].load(Ordering::SeqCst);
                    if received
                        .last()
                        .is_some_and(|e: &crate::support::events::Event| e.seq() >= target)
                    {
                        return (u, s, received);
                    }
                    assert!(
                        Instant::now() < deadline,
                        "user{u}'s stream on instance {s}: stuck after {} events",
                        received.len()
                    );
                    match events.next_event(Duration::from_secs(1)).await {
                        Ok(Some(event)) => received.push(event),
                        Ok(None) => panic!(
                            "user{u}'s stream on instance {s} ended after {} events",
                            received.len()
                        ),
                        // Nothing new yet: look at the target again.
                        Err(()) => {}
                    }
                }
            }));
        }
    }

    // Writers on every instance; PostgreSQL restarts a third of the way in.
    let progress = Arc::new(AtomicUsize::new(0));
    let statuses: Arc<Mutex<std::collections::BTreeMap<u16, usize>>> = Arc::default();
    let total = USERS * WRITERS_PER_USER * OPS;
    let mut writers = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for w in 0..WRITERS_PER_USER {
            let (servers, user, http) = (Arc::clone(&servers), user.clone(), http.clone());
            let (progress, statuses) = (Arc::clone(&progress), Arc::clone(&statuses));
            writers.push(tokio::spawn(async move {
                let mut mine: Vec<i64> = Vec::new();
                for op in 0..OPS {
                    let server = &servers[(w + op) % servers.len()];
                    let tasks = server.url(&format!("/api/{}/tasks", user.id));
                    // Each kind of write on a task of its own: fewer 404s.
                    let pick = mine.len().checked_sub(1 + (op % 5) * 3 % mine.len().max(1));
                    let status = match (op % 5, pick.map(|i| mine[i])) {
                        (0, _) | (_, None) => {
                            let response = loop {
                                match http
                                    .post(&tasks)
                                    .bearer_auth(&user.token)
                                    .json(&json!({"title": format!("u{u} w{w} op{op}")}))
                                    .send()
                                    .await
                                {
                                    Ok(r) if r.status() != 503 => break r,
                                    _ => {
                                        RETRIED.fetch_add(1, Ordering::SeqCst);
                                        tokio::time::sleep(Duration::from_millis(100)).await;
                                    }
                                }
                            };
                            let status = response.status().as_u16();
                            if let Ok(task) = response.json::<Value>().await
                                && let Some(id) = task["id"].as_i64()
                            {
                                mine.push(id);
                            }
                            status
                        }
                        (1, Some(id)) => {
                            write(&http, || {
                                http.patch(format!("{tasks}/{id}/complete"))
                                    .bearer_auth(&user.token)
                            })
                            .await
                        }
                        (2, Some(id)) => {
                            write(&http, || {
                                http.put(format!("{tasks}/{id}"))
                                    .bearer_auth(&user.token)
                                    .json(&json!({"title": format!("edited {op}")}))
                            })
                            .await
                        }
                        (3, Some(id)) => {
                            write(&http, || {
                                http.delete(format!("{tasks}/{id}"))
                                    .bearer_auth(&user.token)
                            })
                            .await
                        }
                        (_, Some(id)) => {
                            write(&http, || {
                                http.post(format!("{tasks}/{id}/restore"))
                                    .bearer_auth(&user.token)
                            })
                            .await
                        }
                    };
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                    progress.fetch_add(1, Ordering::SeqCst);
                    // Spread over a few seconds, so that the restart falls amid them.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
    }
    while progress.load(Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let restart = tokio::task::spawn_blocking(move || {
        cluster.stop().expect("PostgreSQL stops");
        std::thread::sleep(Duration::from_millis(1500));
        cluster.start_again().expect("PostgreSQL starts again");
        cluster
    });
    for writer in writers {
        writer.await.unwrap();
    }
    let _cluster = restart.await.unwrap();
    assert!(progress.load(Ordering::SeqCst) == total);
    let statuses = statuses.lock().unwrap().clone();
    assert!(
        statuses.keys().all(|s| [200, 201, 204, 404].contains(s)),
        "{statuses:?}"
    );
    let retried = RETRIED.load(Ordering::SeqCst);
    assert!(retried > 0, "the restart fell amid the writes");

    // The log, as the feed serves it, is what every stream must have got.
    let mut logs = Vec::new();
    for (u, user) in users.iter().enumerate() {
        let mut log = whole_log(&http, &servers[u % 3], user).await;
        assert!(log.len() > OPS, "user{u}'s log has {} changes", log.len());
        targets[u].store(
            log.last().unwrap()["seq"].as_i64().unwrap(),
            Ordering::SeqCst,
        );
        log.insert(0, json!({"seq": 1, "type": "created"}));
        logs.push(log);
    }
    for reader in readers {
        let (u, s, received) = tokio::time::timeout(Duration::from_secs(90), reader)
            .await
            .expect("every stream catches up")
            .unwrap();
        let log = &logs[u];
        let seqs: Vec<i64> = received.iter().map(|e| e.seq()).collect();
        let expected: Vec<i64> = log.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
        assert_eq!(
            seqs.len(),
            expected.len(),
            "user{u} on instance {s}: as many events as changes"
        );
        assert!(
            seqs == expected,
            "user{u} on instance {s}: every change once, in order"
        );
        for (event, change) in received.iter().zip(log).skip(1) {
            assert_eq!(
                event.json(),
                *change,
                "user{u} on instance {s}: the feed's change"
            );
            assert_eq!(event.event.as_deref(), change["type"].as_str());
        }
        assert_eq!(received[0].event.as_deref(), Some("created"));
    }
    // The listeners lost their connection with the restart and listened again.
    for server in &servers[..2] {
        let listens = server
            .logs()
            .iter()
            .filter(|l| l.contains("events: listening for changes"))
            .count();
        assert!(
            listens >= 2,
            "listened {listens} times: {:?}",
            server.logs()
        );
    }
    println!(
        "{total} writes on 3 instances through a PostgreSQL restart ({retried} attempts retried on 503; final statuses {statuses:?}); {} streams each got all {} changes of their user once, in order",
        USERS * 3,
        logs.iter()
            .map(Vec::len)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" and "),
    );
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let dir = scratch_dir();
    let db = dir.join("todo.db");
    let server = Server::start(
        &dir,
        &[
            ("SQLITE_PATH", db.to_str().unwrap()),
            ("BETTER_AUTH_SECRET", SECRET),
        ],
    );
    let http = reqwest::Client::new();
    let token = sign(&json!({"sub": "alice", "exp": now() + 2}), SECRET);
    let user = TestUser {
        id: "alice".to_owned(),
        token,
    };
    let started = Instant::now();
    let mut events = open_stream(&http, &server, &user, 0).await;
    assert!(
        matches!(events.next(Duration::from_secs(10)).await, Ok(None)),
        "the stream ended"
    );
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(5),
        "{lasted:?}"
    );
    println!("a stream whose token expired 2 s after it opened ended after {lasted:?}");
}

#[tokio::test]
async fn sigterm_ends_open_streams_and_the_server_exits_within_its_grace_period() {
    let dir = scratch_dir();
    let db = dir.join("todo.db");
    let server = Server::start(
        &dir,
        &[
            ("SQLITE_PATH", db.to_str().unwrap()),
            ("BETTER_AUTH_SECRET", SECRET),
        ],
    );
    let http = reqwest::Client::new();
    let mut streams = Vec::new();
    for i in 0..10 {
        let user = TestUser::new(&format!("user{}", i % 2));
        streams.push(open_stream(&http, &server, &user, 0).await);
    }
    let started = Instant::now();
    let (code, log) = server.terminate();
    let took = started.elapsed();
    assert_eq!(code, 0, "{log:?}");
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM took {took:?} with 10 streams open (grace 10 s)"
    );
    for mut stream in streams {
        assert!(
            matches!(stream.next(Duration::from_secs(5)).await, Ok(None)),
            "the stream ended"
        );
    }
    println!("SIGTERM with 10 streams open: exited 0 after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_nobody_reads_holds_up_no_writer_and_no_other_stream() {
    const WRITES: usize = 1600;
    let dir = scratch_dir();
    let db = dir.join("todo.db");
    let server = Server::start(
        &dir,
        &[
            ("SQLITE_PATH", db.to_str().unwrap()),
            ("BETTER_AUTH_SECRET", SECRET),
            ("HTTP_WRITE_TIMEOUT_SECS", "120"),
        ],
    );
    let http = reqwest::Client::new();
    let alice = TestUser::new("alice");
    // Opened and then not read: what the server writes to it piles up in the
    // kernel's buffers (1 600 events are about 2 MB), then in the stream.
    let mut stalled = open_stream(&http, &server, &alice, 0).await;
    let mut reader = open_stream(&http, &server, &alice, 0).await;
    let reading = tokio::spawn(async move {
        let mut last = 0;
        let mut count = 0;
        while count < WRITES {
            let event = reader
                .next_event(Duration::from_secs(30))
                .await
                .expect("the reader's events keep coming")
                .expect("the reader's stream goes on");
            assert!(event.seq() > last);
            last = event.seq();
            count += 1;
        }
        count
    });
    let started = Instant::now();
    let url = server.url("/api/alice/tasks");
    let writes = (0..4).map(|w| {
        let (http, url, token) = (http.clone(), url.clone(), alice.token.clone());
        tokio::spawn(async move {
            for i in 0..WRITES / 4 {
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("w{w} {i}"), "description": "x".repeat(1000)}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
            }
        })
    });
    for write in writes {
        write.await.unwrap();
    }
    let wrote = started.elapsed();
    // The unread connection's send queue on the server's side, from the
    // kernel's table (/proc/net/tcp: local address, then `tx_queue:rx_queue` in hex).
    let port: u16 = server
        .address()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let queues = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let backed_up = queues
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            let tx = fields.get(4)?.split(':').next()?;
            (local_port == port)
                .then(|| u64::from_str_radix(tx, 16).ok())
                .flatten()
        })
        .max()
        .unwrap_or(0);
    assert!(
        backed_up > 1_000_000,
        "the unread stream's socket should be backed up, but its send queue holds {backed_up} bytes"
    );
    let read = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the other stream got every change")
        .unwrap();
    let other = started.elapsed();
    // The stalled stream, read at last, has them all too, in order.
    let mut seqs = Vec::new();
    while seqs.len() < WRITES {
        let event = stalled
            .next_event(Duration::from_secs(30))
            .await
            .expect("the stalled stream resumes")
            .expect("the stalled stream was not cut off");
        seqs.push(event.seq());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    println!(
        "{WRITES} creates with one stream not read ({backed_up} bytes backed up in its socket): writes took {wrote:?}, the other stream had all {read} after {other:?}, the stalled one then caught up"
    );
}

#[tokio::test]
async fn a_write_that_rolls_back_is_never_on_a_stream_and_keep_alives_come() {
    let Some(cluster) = postgres::own_cluster(|_| Ok(())) else {
        return;
    };
    cluster.sql("postgres", "CREATE DATABASE live").unwrap();
    let url = cluster.url("live");
    let server = Server::start(
        &scratch_dir(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("NEON_DIRECT_URL", url.as_str()),
            ("BETTER_AUTH_SECRET", SECRET),
            ("EVENTS_KEEPALIVE_SECS", "1"),
        ],
    );
    // Storing an idempotency key fails: a keyed create then rolls back,
    // after its task and its change row were written in its transaction.
    cluster
        .sql(
            "live",
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON idempotency_keys \
             FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .unwrap();
    let http = reqwest::Client::new();
    let alice = TestUser::new("alice");
    let mut events = open_stream(&http, &server, &alice, 0).await;
    let tasks = server.url("/api/alice/tasks");
    let failed = http
        .post(&tasks)
        .bearer_auth(&alice.token)
        .header("idempotency-key", "rolled-back")
        .json(&json!({"title": "rolled back"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    let created = http
        .post(&tasks)
        .bearer_auth(&alice.token)
        .json(&json!({"title": "committed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut comments = 0;
    let event = loop {
        match events.next(Duration::from_secs(5)).await {
            Ok(Some(crate::support::events::Item::Event(event))) => break event,
            Ok(Some(crate::support::events::Item::Comment)) => comments += 1,
            other => panic!("no event: {other:?}"),
        }
    };
    assert_eq!(event.json()["task"]["title"], "committed", "{}", event.data);
    assert_eq!(
        event.seq(),
        1,
        "the rolled-back write's number was never taken"
    );
    // Then nothing but keep-alives, one a second.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        match events.next(Duration::from_secs(3)).await {
            Ok(Some(crate::support::events::Item::Comment)) => comments += 1,
            other => panic!("only keep-alives were due: {other:?}"),
        }
    }
    assert!(comments >= 2, "{comments} keep-alives");
}

/// Writes notify only while an instance has registered as listening: NOTIFY
/// serialises the commits that send it, so nobody pays for it unheard.
#[tokio::test]
async fn writes_notify_only_while_an_instance_listens() {
    let Some(cluster) = postgres::own_cluster(|_| Ok(())) else {
        return;
    };
    cluster.sql("postgres", "CREATE DATABASE live").unwrap();
    let url = cluster.url("live");
    let server = Server::start(
        &scratch_dir(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("BETTER_AUTH_SECRET", SECRET),
        ],
    );
    // A plain LISTEN of our own, which registers nowhere.
    let (client, mut connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (heard, mut notes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notification(note) = message {
                let _ = heard.send(note.payload().to_owned());
            }
        }
    });
    client
        .batch_execute("LISTEN todo_api_changes")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let alice = TestUser::new("alice");
    let create = async |title: &str| {
        let response = http
            .post(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token)
            .json(&json!({ "title": title }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    };
    create("unheard").await;
    let silence = tokio::time::timeout(Duration::from_millis(500), notes.recv()).await;
    assert!(
        silence.is_err(),
        "no listener registered, yet a NOTIFY came: {silence:?}"
    );
    // An instance registers (as the feeder does), and writes notify.
    cluster
        .sql(
            "live",
            "INSERT INTO change_listeners VALUES ('test', now())",
        )
        .unwrap();
    create("heard").await;
    let note = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await;
    assert_eq!(note.ok().flatten().as_deref(), Some("alice"));
    // A registration older than 90 s is no longer one.
    cluster
        .sql(
            "live",
            "UPDATE change_listeners SET seen_at = now() - interval '2 minutes'",
        )
        .unwrap();
    create("unheard again").await;
    let silence = tokio::time::timeout(Duration::from_millis(500), notes.recv()).await;
    assert!(
        silence.is_err(),
        "a stale registration still notified: {silence:?}"
    );
}
