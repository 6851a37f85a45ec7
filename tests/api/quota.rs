//! One user cannot fill the database: `MAX_TASKS_PER_USER` caps the tasks a
//! user keeps, with a clear 409, on both backends.

use serde_json::json;

use crate::support::{Backend, SECRET, TestApp, TestUser, id_of};
use todo_api::auth::TokenVerifier;

async fn the_task_limit_is_a_409_that_names_it_and_purging_makes_room(backend: Backend) {
    let verifier = TokenVerifier::with_shared_secret(SECRET, 0);
    let Some(app) = TestApp::spawn_limited(backend, verifier, 3).await else {
        return;
    };
    let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(&app.new_task(&alice, &format!("t{i}")).await));
    }

    let refused = app
        .create_task(&alice, json!({"title": "one too many"}))
        .await;
    let problem = refused.expect_problem(409);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 3 tasks") && detail.contains("MAX_TASKS_PER_USER"),
        "{detail}"
    );
    assert_eq!(app.titles(&alice, "").await.len(), 3, "nothing was stored");

    // The limit is per user; a deleted task waits in the trash, and
    // purging it makes room again.
    app.create_task(&bob, json!({"title": "bob's"}))
        .await
        .expect(201);
    app.delete_task(&alice, ids[0]).await.expect(204);
    app.create_task(&alice, json!({"title": "the trash still counts"}))
        .await
        .expect_problem(409);
    let purge = format!("/api/{}/trash/{}", alice.id, ids[0]);
    app.send(poem::http::Method::DELETE, &purge, Some(&alice.token), None)
        .await
        .expect(204);
    app.create_task(&alice, json!({"title": "fits again"}))
        .await
        .expect(201);
    app.create_task(&alice, json!({"title": "full again"}))
        .await
        .expect_problem(409);
}

#[tokio::test]
async fn postgres_the_task_limit_is_a_409_that_names_it_and_purging_makes_room() {
    the_task_limit_is_a_409_that_names_it_and_purging_makes_room(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_the_task_limit_is_a_409_that_names_it_and_purging_makes_room() {
    the_task_limit_is_a_409_that_names_it_and_purging_makes_room(Backend::Sqlite).await;
}
