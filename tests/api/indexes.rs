//! The listing queries are served by the owner-first indexes: PostgreSQL's
//! own plans (auto_explain, for the statements the server really sends) for a
//! user with many tasks among many users show no sequential scan of `tasks`.

use poem::http::Method;
use todo_api::{
    auth::TokenVerifier,
    db::{Database, PoolSettings},
};

use crate::support::{
    SECRET, TestApp, TestUser, next_of,
    postgres::{append_settings, own_cluster},
};

#[tokio::test(flavor = "multi_thread")]
async fn listings_use_the_owner_indexes_not_a_sequential_scan() {
    let Some(cluster) = own_cluster(|data| {
        append_settings(
            data,
            "shared_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0",
        )
    }) else {
        return;
    };
    let url = cluster.url("postgres");
    let db = Database::postgres(
        &url,
        PoolSettings {
            max_size: 2,
            read_connections: 2,
            timeout: std::time::Duration::from_secs(5),
        },
    )
    .unwrap();
    db.migrate().await.unwrap();
    // 40 users with 1 000 tasks each, and `big` with 2 000: priorities, a
    // tag on every fifth, all-day and timed due dates on half.
    let rows = |user: &str, count: u32| {
        format!(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at, priority, \
             tags, due_date, due_time, due_tz, due_at, due_key, title_folded) \
             SELECT {user}, 'task ' || g, g % 3 = 0, now() - g * interval '1 minute', now(), \
             g % 4, CASE WHEN g % 5 = 0 THEN ',home,' ELSE '' END, \
             CASE WHEN g % 2 = 0 THEN date '2026-01-01' + g % 365 END, \
             CASE WHEN g % 4 = 0 THEN time '09:00' END, \
             CASE WHEN g % 4 = 0 THEN 'UTC' END, \
             CASE WHEN g % 4 = 0 THEN (date '2026-01-01' + g % 365) + time '09:00' END, \
             CASE WHEN g % 2 = 0 THEN to_char(date '2026-01-01' + g % 365, 'YYYY-MM-DD') END, \
             'task ' || g FROM generate_series(1, {count}) g"
        )
    };
    cluster
        .sql("postgres", &rows("'user' || (g % 40)", 40_000))
        .unwrap();
    cluster.sql("postgres", &rows("'big'", 2_000)).unwrap();
    cluster.sql("postgres", "VACUUM ANALYZE tasks").unwrap();

    // Every start-up asks for rows whose text is still to fold (none here):
    // an index probe, not a scan of every task.
    let log = cluster.dir.join("log");
    let before = std::fs::metadata(&log).unwrap().len() as usize;
    db.migrate().await.unwrap();
    let plans = std::fs::read_to_string(&log).unwrap()[before..].to_owned();
    assert!(plans.contains("title_folded"), "{plans}");
    assert!(!plans.contains("Seq Scan on tasks"), "start-up:\n{plans}");

    db.connect_shared_reads().await;
    let app = TestApp::on_database(db, TokenVerifier::with_shared_secret(SECRET, 0));
    let big = TestUser::new("big");
    // A cursor's page of the shared connections' listing.
    let first = app
        .send(
            Method::GET,
            &format!("{}?limit=50", big.tasks_path()),
            Some(&big.token),
            None,
        )
        .await;
    let next = next_of(first.expect(200)).expect("a next page");
    let after = next[next.find('?').unwrap()..].to_owned();
    for query in [
        after.as_str(),
        "",
        // The shared connections' prepared statement (a cursor's page below).
        "?limit=50",
        "?tag=home",
        "?sort=priority",
        "?due=week&tz=Europe/Berlin",
        "?due_from=2026-03-01&due_to=2026-04-01",
        "?sort=due&limit=50",
        "?search=task%201",
    ] {
        let before = std::fs::metadata(&log).unwrap().len() as usize;
        // Twice: the second runs the prepared statement.
        for _ in 0..2 {
            let reply = app
                .send(
                    Method::GET,
                    &format!("{}{query}", big.tasks_path()),
                    Some(&big.token),
                    None,
                )
                .await;
            reply.expect(200);
        }
        let text = std::fs::read_to_string(&log).unwrap();
        let plans = &text[before..];
        assert!(
            plans.contains("Query Text:")
                && (plans.contains("\"tasks\"") || plans.contains("FROM tasks")),
            "auto_explain logged the listing {query:?}:\n{plans}"
        );
        assert!(
            !plans.contains("Seq Scan on tasks"),
            "{query:?} must not scan all tasks:\n{plans}"
        );
        assert!(plans.contains("Index"), "{query:?} uses an index:\n{plans}");
    }
}
