//! The committed `openapi.yaml` is the contract; the code must produce it exactly.

use poem::http::Method;
use serde_json::Value;

use crate::support::{Backend, TestApp};

const REGENERATE: &str = "cargo run --quiet -- openapi > openapi.yaml";

fn committed_contract() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("reading {path}: {err}; create it with `{REGENERATE}`"))
}

#[test]
fn the_code_produces_exactly_the_committed_openapi_yaml() {
    if let Some(problem) = option_env!("TODO_API_OPENAPI_PROBLEM") {
        panic!(
            "build.rs found openapi.yaml invalid: {problem}\nRegenerate it with:\n    {REGENERATE}"
        );
    }
    let committed = committed_contract();
    let generated = todo_api::api::spec_yaml();
    if committed != generated {
        let diff = similar::TextDiff::from_lines(&committed, &generated);
        panic!(
            "openapi.yaml (-) differs from what the code generates (+):\n{}\n\
             If the code is right, regenerate the contract with:\n    {REGENERATE}\n\
             and review the change: it is an API change for every client.",
            diff.unified_diff()
                .context_radius(3)
                .header("openapi.yaml", "generated")
        );
    }
}

#[tokio::test]
async fn the_served_spec_and_swagger_ui_match_the_contract() {
    // The spec and Swagger UI touch no database: one backend is enough.
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let yaml = app.send(Method::GET, "/openapi.yaml", None, None).await;
    yaml.expect(200);
    assert_eq!(
        String::from_utf8(yaml.raw.clone()).unwrap(),
        committed_contract()
    );

    let json = app.send(Method::GET, "/openapi.json", None, None).await;
    json.expect(200);
    assert_eq!(json.body["info"]["title"], "Todo API");

    let docs = app.send(Method::GET, "/docs", None, None).await;
    docs.expect(200);
    let html = String::from_utf8_lossy(&docs.raw);
    assert!(html.contains("swagger-ui"), "Swagger UI is served at /docs");
}

/// A person who opens the server's address in a browser lands on Swagger UI.
#[tokio::test]
async fn the_root_redirects_to_swagger_ui() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for method in [Method::GET, Method::HEAD] {
        let root = app.send(method.clone(), "/", None, None).await;
        assert_eq!(root.status.as_u16(), 307, "{method} /: {}", root.body);
        assert_eq!(root.header("location"), Some("/docs"), "{method} /");
    }
}

fn spec() -> Value {
    serde_json::from_str(&todo_api::api::service().spec()).unwrap()
}

#[test]
fn every_task_operation_documents_its_errors_and_its_security() {
    let spec = spec();
    let single_task = [
        "get_task",
        "update_task",
        "delete_task",
        "complete_task",
        "restore_task",
        "purge_task",
        "list_occurrences",
    ];
    let conditional = [
        "update_task",
        "delete_task",
        "complete_task",
        "restore_task",
    ];
    let idempotent = [
        "create_task",
        "update_task",
        "delete_task",
        "complete_task",
        "restore_task",
        "purge_task",
        "empty_trash",
    ];
    let with_body = ["create_task", "update_task", "complete_task"];
    let mut seen = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for operation in operations.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            seen.push(id.to_owned());
            let responses = operation["responses"].as_object().unwrap();
            let mut expected = vec!["401", "403", "422", "503"];
            if single_task.contains(&id) {
                expected.push("404");
            }
            if with_body.contains(&id) {
                expected.extend(["413", "415"]);
            }
            for status in expected {
                let response = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{id} does not document {status}"));
                assert!(
                    response["content"]["application/problem+json"]["schema"]["example"]
                        .is_object(),
                    "{id} {status} has an example"
                );
            }
            if !single_task.contains(&id) {
                assert!(!responses.contains_key("404"), "{id} never answers 404");
            }
            let params: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "header")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(
                params.contains(&"If-Match"),
                conditional.contains(&id),
                "{id}: If-Match"
            );
            if conditional.contains(&id) {
                assert!(
                    responses["412"]["headers"]["ETag"].is_object(),
                    "{id}: a 412 names the current ETag"
                );
            }
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let pattern = param["schema"]["pattern"].as_str();
                match param["name"].as_str().unwrap() {
                    "If-Match" => assert_eq!(
                        pattern,
                        Some(todo_api::domain::conditional::ENTITY_TAGS_PATTERN),
                        "{id}: the parser's own pattern"
                    ),
                    "Idempotency-Key" => assert_eq!(
                        pattern,
                        Some(todo_api::domain::conditional::IDEMPOTENCY_KEY_PATTERN),
                        "{id}: the parser's own pattern"
                    ),
                    _ => {}
                }
            }
            assert_eq!(
                params.contains(&"Idempotency-Key"),
                idempotent.contains(&id),
                "{id}: Idempotency-Key"
            );
            if idempotent.contains(&id) {
                assert!(
                    responses["409"]["headers"]["Retry-After"].is_object(),
                    "{id}: a 409 for a key in use says when to retry"
                );
                let success = responses
                    .iter()
                    .find(|(status, _)| status.starts_with('2'))
                    .unwrap()
                    .1;
                assert!(
                    success["headers"]["Idempotent-Replayed"].is_object(),
                    "{id}: a replay is marked"
                );
            }
            assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
            assert!(responses["503"]["headers"]["Retry-After"].is_object());
            assert_eq!(
                operation["security"][0]["bearerAuth"],
                serde_json::json!([]),
                "{id} needs a bearer token"
            );
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "complete_task",
            "create_task",
            "delete_task",
            "empty_trash",
            "get_task",
            "list_changes",
            "list_occurrences",
            "list_tasks",
            "list_trash",
            "purge_task",
            "restore_task",
            "stream_events",
            "update_task"
        ]
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    // Header names are case-insensitive; poem-openapi writes this one upper-case.
    let created_headers =
        spec["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["201"]["headers"]
            .as_object()
            .unwrap();
    assert!(
        created_headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("location")),
        "201 documents Location"
    );
}

#[test]
fn the_security_scheme_states_the_sub_limit_the_verifier_enforces() {
    let spec = spec();
    let description = spec["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .unwrap();
    let limit = format!("at most {} bytes", todo_api::domain::UserId::MAX_BYTES);
    assert!(description.contains(&limit), "{description}");
}

#[test]
fn the_spec_is_deterministic() {
    assert_eq!(todo_api::api::spec_yaml(), todo_api::api::spec_yaml());
}
