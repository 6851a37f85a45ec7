//! Concurrent writers never see an error: on SQLite a locked database is
//! waited for (WAL + busy timeout), never a 500; nothing is lost.

use serde_json::json;

use crate::support::{TestUser, backend_tests, id_of};

const WRITERS: usize = 8;
const TASKS_PER_WRITER: usize = 20;

backend_tests! {
    async fn eight_parallel_writers_all_succeed_and_lose_nothing(app: TestApp) {
        let writers = (0..WRITERS).map(|w| {
            let app = &app;
            async move {
                let user = TestUser::new(&format!("writer-{w}"));
                for i in 0..TASKS_PER_WRITER {
                    let task = app.create_task(&user, json!({"title": format!("task {i}")})).await;
                    task.expect(201);
                    let id = id_of(&task.body);
                    app.update_task(&user, id, json!({"description": "edited"})).await.expect(200);
                    app.complete_task(&user, id, None).await.expect(200);
                    if i % 2 == 0 {
                        app.delete_task(&user, id).await.expect(204);
                    }
                }
                user
            }
        });
        let users = futures::future::join_all(writers).await;
        for user in users {
            let reply = app.list(&user, "?status=completed").await;
            let tasks = reply.expect(200).body.as_array().unwrap().clone();
            assert_eq!(tasks.len(), TASKS_PER_WRITER / 2, "{}'s surviving tasks", user.id);
            assert!(tasks.iter().all(|t| t["description"] == "edited" && t["user_id"] == user.id.as_str()));
        }
    }
}
