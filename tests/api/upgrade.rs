//! A database of 1.0 with its tasks upgrades to 1.1 at start-up: the new
//! fields take their defaults, and search finds old tasks in any case,
//! Unicode included (the text SQL cannot fold is folded by the server).

use diesel::Connection;
use diesel_async::{AsyncPgConnection, async_connection_wrapper::AsyncConnectionWrapper};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use serde_json::json;
use todo_api::{auth::TokenVerifier, db::Database};

use crate::support::{POOL, SECRET, TestApp, TestUser, postgres, sqlite};

/// 1.0's rows, written as 1.0 wrote them (text as sent, no new columns).
const ROWS_OF_1_0: &str = "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) VALUES \
    ('alice', 'ÉTÉ à Paris', 'Crème BRÛLÉE', false, '2026-11-24 09:30:00.000000+00:00', '2026-11-24 09:30:00.000000+00:00'), \
    ('alice', 'Plain ASCII', NULL, true, '2026-11-24 09:31:00.000000+00:00', '2026-11-24 09:31:00.000000+00:00'), \
    ('alice', 'ascii title', 'Ünïcode IN THE description', false, '2026-11-24 09:32:00.000000+00:00', '2026-11-24 09:32:00.000000+00:00')";

async fn upgraded_tasks_are_found(db: Database) {
    db.migrate()
        .await
        .expect("1.1 applies over 1.0 and its rows");
    let app = TestApp::on_database(db, TokenVerifier::with_shared_secret(SECRET, 0));
    let alice = TestUser::new("alice");
    let all = app.list(&alice, "?sort=title").await;
    for task in all.expect(200).body.as_array().unwrap() {
        assert_eq!(
            (&task["priority"], &task["tags"], &task["due"]),
            (&json!("none"), &json!([]), &json!(null)),
            "{task}"
        );
    }
    for (search, expected) in [
        ("%C3%A9t%C3%A9", vec!["ÉTÉ à Paris"]),
        ("br%C3%BBl%C3%A9e", vec!["ÉTÉ à Paris"]),
        ("ascii", vec!["Plain ASCII", "ascii title"]),
        ("%C3%BCn%C3%AFcode%20in", vec!["ascii title"]),
    ] {
        let titles = app
            .titles(&alice, &format!("?sort=title&search={search}"))
            .await;
        assert_eq!(titles, expected, "search={search}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_database_of_1_0_upgrades_with_its_tasks() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    let url = database.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        let source = FileBasedMigrations::from_path("migrations/postgres").unwrap();
        conn.run_next_migration(source).unwrap();
        diesel::RunQueryDsl::execute(diesel::sql_query(ROWS_OF_1_0), &mut conn).unwrap();
    })
    .await
    .unwrap();
    upgraded_tasks_are_found(Database::postgres(&database.url, POOL).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqlite_database_of_1_0_upgrades_with_its_tasks() {
    let file = sqlite::TestFile::new();
    let path = file.path.to_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        let source = FileBasedMigrations::from_path("migrations/sqlite").unwrap();
        conn.run_next_migration(source).unwrap();
        diesel::RunQueryDsl::execute(diesel::sql_query(ROWS_OF_1_0), &mut conn).unwrap();
    })
    .await
    .unwrap();
    upgraded_tasks_are_found(Database::sqlite(&file.path, POOL).unwrap()).await;
}
