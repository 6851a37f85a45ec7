//! Both backends answer the same requests with the same bytes (timestamps
//! aside, which are checked for format instead).

use poem::http::Method;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, TestUser};

/// A script touching every route, filter, sort and error; returns every
/// status and body, with timestamps replaced by a marker once checked.
async fn transcript(app: &TestApp) -> Vec<(u16, String)> {
    let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
    let mut out = Vec::new();
    let mut record = |reply: crate::support::Reply| {
        let mut body = reply.body.clone();
        normalize(&mut body);
        out.push((reply.status.as_u16(), body.to_string()));
    };
    for (title, description) in [
        ("b", json!("x")),
        ("a", json!(null)),
        ("B", json!("é€😀")),
        ("b", json!("")),
    ] {
        record(
            app.create_task(&alice, json!({"title": title, "description": description}))
                .await,
        );
    }
    record(app.create_task(&bob, json!({"title": "bob's"})).await);
    record(app.complete_task(&alice, 2, None).await);
    record(
        app.update_task(&alice, 1, json!({"title": " b2 ", "description": null}))
            .await,
    );
    for query in [
        "",
        "?order=asc",
        "?sort=title",
        "?sort=title&order=desc",
        "?sort=updated",
        "?status=completed",
        "?status=pending&sort=title",
    ] {
        record(app.list(&alice, query).await);
    }
    record(app.get_task(&alice, 5).await);
    record(app.get_task(&bob, 1).await);
    record(app.delete_task(&alice, 4).await);
    record(app.delete_task(&alice, 4).await);
    record(
        app.update_task(&alice, 3, json!({"title": "", "completed": 1}))
            .await,
    );
    record(
        app.send(
            Method::GET,
            "/api/alice/tasks?sort=nope",
            Some(&alice.token),
            None,
        )
        .await,
    );
    record(
        app.send(Method::GET, "/api/bob/tasks", Some(&alice.token), None)
            .await,
    );
    record(app.list(&bob, "").await);
    out
}

fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key.ends_with("_at") {
                    let text = field.as_str().expect("a timestamp is a string");
                    assert!(
                        text.len() == 27 && text.ends_with('Z'),
                        "RFC 3339 UTC with microseconds: {text}"
                    );
                    *field = json!("<timestamp>");
                } else {
                    normalize(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

#[tokio::test]
async fn postgres_and_sqlite_give_the_same_answers() {
    let Some(postgres) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (pg, lite) = (transcript(&postgres).await, transcript(&sqlite).await);
    assert_eq!(pg.len(), lite.len());
    for (i, (pg, lite)) in pg.iter().zip(&lite).enumerate() {
        assert_eq!(pg, lite, "step {i} differs between PostgreSQL and SQLite");
    }
}
