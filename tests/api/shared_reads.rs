//! The hot reads on PostgreSQL's shared connections (`DB_READ_CONNECTIONS`):
//! their prepared SQL against the migrated schema, the same answers as the
//! pool's (byte for byte), and the pool taking over when a shared connection
//! dies. (Every other PostgreSQL test runs with them on, too: the suite's
//! apps have 2.)

use std::time::{Duration, Instant};

use poem::http::Method;
use serde_json::json;
use todo_api::{
    auth::TokenVerifier,
    db::{Database, PoolSettings, tasks::hot::STATEMENTS},
};
use tokio_postgres::types::Type;

use crate::{
    binary::{Server, call, scratch_dir},
    support::{POOL, Reply, SECRET, TestApp, TestUser, id_of, next_of, postgres},
};

fn settings(read_connections: usize) -> PoolSettings {
    PoolSettings {
        read_connections,
        ..POOL
    }
}

/// What `tasks::hot` decodes, column by column (`TaskRow`'s fields).
const TASK_COLUMNS: [(&str, Type); 17] = [
    ("id", Type::INT8),
    ("title", Type::TEXT),
    ("description", Type::TEXT),
    ("completed", Type::BOOL),
    ("created_at", Type::TIMESTAMPTZ),
    ("updated_at", Type::TIMESTAMPTZ),
    ("priority", Type::INT2),
    ("tags", Type::TEXT),
    ("due_date", Type::DATE),
    ("due_time", Type::TIME),
    ("due_tz", Type::TEXT),
    ("due_at", Type::TIMESTAMPTZ),
    ("version", Type::INT8),
    ("trashed_at", Type::TIMESTAMPTZ),
    ("recur_rule", Type::TEXT),
    ("recur_from", Type::TEXT),
    ("reminders", Type::TEXT),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_shared_read_statement_prepares_against_the_migrated_schema() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    let db = Database::postgres(&database.url, settings(0)).unwrap();
    db.migrate().await.unwrap();
    let client = admin(&database.url).await;
    // find; the first page; a cursor's page: the parameters each binds.
    let params = [
        vec![Type::TEXT, Type::INT8],
        vec![Type::TEXT, Type::INT8],
        vec![Type::TEXT, Type::INT8, Type::TIMESTAMPTZ, Type::INT8],
    ];
    assert_eq!(
        STATEMENTS.len(),
        params.len(),
        "a statement without a check"
    );
    for (sql, params) in STATEMENTS.iter().zip(params) {
        let statement = client
            .prepare(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err:?}"));
        assert_eq!(statement.params(), params.as_slice(), "{sql}");
        let columns: Vec<(&str, &Type)> = statement
            .columns()
            .iter()
            .map(|c| (c.name(), c.type_()))
            .collect();
        let expected: Vec<(&str, &Type)> = TASK_COLUMNS.iter().map(|(n, t)| (*n, t)).collect();
        assert_eq!(&columns[..17], expected.as_slice(), "{sql}");
        // A listing's last column is the owner's change counter.
        match columns.len() {
            17 => {}
            18 => assert_eq!(columns[17].1, &Type::INT8, "{sql}"),
            n => panic!("{n} columns: {sql}"),
        }
    }
}

/// Every response to `path`, from both apps: status, the headers a client
/// reads, and the body's bytes.
async fn both(shared: &TestApp, pooled: &TestApp, user: &TestUser, path: &str) -> Reply {
    let a = shared
        .send(Method::GET, path, Some(&user.token), None)
        .await;
    let b = pooled
        .send(Method::GET, path, Some(&user.token), None)
        .await;
    assert_eq!(a.status, b.status, "{path}");
    for header in ["etag", "link", "content-type", "content-length"] {
        assert_eq!(a.header(header), b.header(header), "{header} of {path}");
    }
    assert_eq!(
        String::from_utf8_lossy(&a.raw),
        String::from_utf8_lossy(&b.raw),
        "{path}"
    );
    a
}

/// A plain connection to `url`, beside the server's.
async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The last statement of each shared connection, from pg_stat_activity.
async fn shared_activity(admin: &tokio_postgres::Client) -> Vec<(i32, String)> {
    admin
        .query(
            "SELECT pid, query FROM pg_stat_activity \
             WHERE application_name = 'todo-api shared reads' AND datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_reads_answer_byte_for_byte_as_the_pool_does_and_survive_a_killed_connection() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    let verifier = || TokenVerifier::with_shared_secret(SECRET, 0);
    let db = Database::postgres(&database.url, settings(2)).unwrap();
    db.migrate().await.unwrap();
    db.connect_shared_reads().await;
    assert_eq!(db.shared_reads_open(), 2);
    let shared = TestApp::on_database(db, verifier());
    let pooled = TestApp::on_database(
        Database::postgres(&database.url, settings(0)).unwrap(),
        verifier(),
    );
    let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
    // Every field in use: none, all-day and timed due dates, recurrence,
    // reminders, tags, priorities, a description, completion, the trash.
    let bodies = [
        json!({"title": "plain"}),
        json!({"title": "described", "description": "with ünïcode \"quotes\"\n"}),
        json!({"title": "all-day", "due": {"date": "2027-01-05"}, "priority": "high", "tags": ["home", "errand"]}),
        json!({"title": "timed", "due": {"datetime": "2027-01-05T09:30", "time_zone": "Europe/Berlin"}, "reminders": [{"before": "PT15M"}]}),
        json!({"title": "weekly", "due": {"date": "2027-01-04"}, "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO"}}),
    ];
    let mut ids = Vec::new();
    for round in 0..5 {
        for body in &bodies {
            let mut body = body.clone();
            body["title"] = json!(format!("{} {round}", body["title"].as_str().unwrap()));
            ids.push(id_of(
                &shared.create_task(&alice, body).await.expect(201).body,
            ));
        }
    }
    shared.complete_task(&alice, ids[1], None).await.expect(200);
    shared.complete_task(&alice, ids[4], None).await.expect(200);
    shared.delete_task(&alice, ids[2]).await.expect(204);
    let bobs = id_of(&shared.new_task(&bob, "bob's").await);

    // Pages of 4 followed to the end, then every task, one by one.
    let mut path = format!("{}?limit=4", alice.tasks_path());
    let mut seen = 0;
    loop {
        let page = both(&shared, &pooled, &alice, &path).await;
        page.expect(200);
        seen += page.body.as_array().unwrap().len();
        match next_of(&page) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(
        seen,
        ids.len() - 1,
        "every live task once, not the trashed one"
    );
    for &id in &ids {
        let status = if id == ids[2] { 404 } else { 200 };
        both(&shared, &pooled, &alice, &alice.task_path(id))
            .await
            .expect(status);
    }
    // Another user's task is not found; an empty listing is empty.
    both(&shared, &pooled, &alice, &alice.task_path(bobs))
        .await
        .expect(404);
    let carol = TestUser::new("carol");
    both(
        &shared,
        &pooled,
        &carol,
        &format!("{}?limit=10", carol.tasks_path()),
    )
    .await
    .expect(200);
    // The shared connections served them: their last statements are ours.
    let admin = admin(&database.url).await;
    let activity = shared_activity(&admin).await;
    assert_eq!(activity.len(), 2, "{activity:?}");
    assert!(
        activity
            .iter()
            .all(|(_, query)| STATEMENTS.contains(&query.as_str())),
        "{activity:?}"
    );

    // Their backends killed: every read still answers (from the pool), and
    // the connections are made again in the background.
    for (pid, _) in &activity {
        admin
            .execute("SELECT pg_terminate_backend($1)", &[pid])
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reads = 0;
    loop {
        for &id in &ids[..4] {
            shared
                .get_task(&alice, id)
                .await
                .expect(if id == ids[2] { 404 } else { 200 });
            shared.list(&alice, "?limit=3").await.expect(200);
            reads += 2;
        }
        let now = shared_activity(&admin).await;
        if shared.db.shared_reads_open() == 2
            && now.len() == 2
            && now
                .iter()
                .all(|(pid, _)| !activity.iter().any(|(old, _)| old == pid))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the shared connections were not made again: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reads >= 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_read_nothing_of_their_pages_hold_up_no_one_on_the_shared_connection() {
    use std::io::Write as _;

    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    // One shared connection, for everyone.
    let api = Server::start(
        &scratch_dir(),
        &[
            ("DATABASE_URL", &database.url),
            ("BETTER_AUTH_SECRET", SECRET),
            ("DB_READ_CONNECTIONS", "1"),
        ],
    );
    let http = reqwest::Client::new();
    let alice = TestUser::new("alice");
    let tasks = api.url(&alice.tasks_path());
    // 1 000 characters (the most), of 4 bytes each.
    let long = "🙂".repeat(1_000);
    let mut first = 0;
    for n in 0..100 {
        let (status, task) = call(
            http.post(&tasks)
                .bearer_auth(&alice.token)
                .json(&json!({"title": format!("task {n}"), "description": long})),
        )
        .await;
        assert_eq!(status, 201, "{task}");
        if n == 0 {
            first = task["id"].as_i64().unwrap();
        }
    }
    // 16 clients ask for a page of 100 (400 kB: more than the socket
    // buffers hold) and never read a byte of it.
    let address = api.url("").trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut socket = std::net::TcpStream::connect(&address).unwrap();
        write!(
            socket,
            "GET {}?limit=100 HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\r\n",
            alice.tasks_path(),
            alice.token
        )
        .unwrap();
        stalled.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Everyone else's reads still answer at once.
    let one = api.url(&alice.task_path(first));
    let started = Instant::now();
    for _ in 0..50 {
        let asked = Instant::now();
        let (status, task) = call(http.get(&one).bearer_auth(&alice.token)).await;
        assert_eq!((status, task["title"].as_str()), (200, Some("task 0")));
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
    }
    let (status, page) = call(
        http.get(format!("{tasks}?limit=5"))
            .bearer_auth(&alice.token),
    )
    .await;
    assert_eq!((status, page.as_array().map(Vec::len)), (200, Some(5)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
    assert_eq!(api.terminate().0, 0);
}
