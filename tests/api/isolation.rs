//! One user never sees or touches another's tasks.

use poem::http::Method;
use serde_json::json;

use crate::support::{TestUser, backend_tests, every_task_route, id_of};

backend_tests! {
    async fn a_user_cannot_see_another_users_tasks_in_a_listing(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        app.new_task(&alice, "alice's").await;
        app.new_task(&bob, "bob's").await;
        assert_eq!(app.titles(&alice, "").await, ["alice's"]);
        assert_eq!(app.titles(&bob, "").await, ["bob's"]);
    }

    async fn another_users_task_is_indistinguishable_from_a_missing_one(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        let task = app
            .create_task(&alice, json!({"title": "private", "description": "secret"}))
            .await
            .body
            .clone();
        let id = id_of(&task);
        let missing = app.get_task(&bob, i64::MAX).await.body.clone();

        // Bob, on his own path, aims at Alice's task id.
        let replies = [
            app.get_task(&bob, id).await,
            app.update_task(&bob, id, json!({"title": "pwned", "description": null}))
                .await,
            app.complete_task(&bob, id, None).await,
            app.complete_task(&bob, id, Some(json!({"completed": true})))
                .await,
            app.delete_task(&bob, id).await,
        ];
        for reply in &replies {
            assert_eq!(
                reply.expect_problem(404),
                &missing,
                "same answer as for a task that does not exist"
            );
        }

        let after = app.get_task(&alice, id).await;
        assert_eq!(after.expect(200).body, task, "Alice's task is untouched");
    }

    async fn a_token_for_one_user_is_forbidden_on_another_users_path_on_every_route(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        let id = id_of(&app.new_task(&alice, "alice's").await);

        for (method, path, body) in every_task_route("alice", id) {
            let reply = app
                .send(method.clone(), &path, Some(&bob.token), body)
                .await;
            reply.expect_problem(403);
            assert!(
                !String::from_utf8_lossy(&reply.raw).contains("alice's"),
                "{method} {path} leaked data"
            );
        }
        assert_eq!(
            app.titles(&alice, "").await,
            ["alice's"],
            "nothing was created, changed or deleted"
        );
    }

    async fn the_path_user_is_compared_after_percent_decoding(app: TestApp) {
        let odd = TestUser::new("auth0|user 1");
        let reply = app
            .send(
                Method::POST,
                "/api/auth0%7Cuser%201/tasks",
                Some(&odd.token),
                Some(json!({"title": "t"})),
            )
            .await;
        reply.expect(201);
        assert_eq!(reply.body["user_id"], "auth0|user 1");
        let location = reply.header("location").unwrap().to_owned();
        assert!(
            location.starts_with("/api/auth0%7Cuser%201/tasks/"),
            "{location}"
        );
        app.send(Method::GET, &location, Some(&odd.token), None)
            .await
            .expect(200);
    }
}
