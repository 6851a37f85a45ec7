//! Micro-benchmarks of the per-request hot paths: token verification on each
//! path, and turning a 50-task list into response bytes. Run with
//! `cargo bench --bench hot_paths`.

use std::time::Duration;

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::IntoResponse;
use poem::{
    EndpointExt, Route, Server, get, handler,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Json},
};
use serde_json::{Value, json};
use todo_api::{
    api::{FastJson, TaskJson},
    auth::{JwksSettings, TokenVerifier, mint_token},
    domain::{Task, UserId},
};

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";
const ISSUER: &str = "http://127.0.0.1:3000";

#[handler]
fn jwks(set: Data<&Value>) -> Json<Value> {
    Json(set.clone())
}

fn verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let hs256 = TokenVerifier::with_shared_secret(SECRET, 0);
    let hs256_token = mint_token(SECRET, "kX9vQ2mN7pL4rT8wY1zB3cD5fG6hJ0aS", 3600);

    // An EdDSA key published on a loopback JWKS, as Better Auth publishes it.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let set = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&public), "kid": "k1", "alg": "EdDSA"}]});
    let url = runtime.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        tokio::spawn(
            Server::new_with_acceptor(acceptor).run(Route::new().at("/jwks", get(jwks)).data(set)),
        );
        format!("http://{addr}/jwks")
    });
    let settings = JwksSettings {
        url,
        issuer: ISSUER.to_owned(),
        audience: ISSUER.to_owned(),
        min_refetch: Duration::from_secs(5),
        fetch_timeout: Duration::from_secs(5),
    };
    let eddsa = TokenVerifier::default().and_jwks(settings, 0);
    runtime.block_on(eddsa.prefetch());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".to_owned());
    header.typ = None;
    let now = chrono::Utc::now().timestamp();
    // The claims Better Auth puts in its tokens: the user row too.
    let claims = json!({"sub": "kX9vQ2mN7pL4rT8wY1zB3cD5fG6hJ0aS", "iss": ISSUER, "aud": ISSUER, "iat": now, "exp": now + 900,
        "id": "kX9vQ2mN7pL4rT8wY1zB3cD5fG6hJ0aS", "name": "Alice", "email": "alice@example.com", "emailVerified": false,
        "image": null, "createdAt": "2026-11-24T09:30:00.000Z", "updatedAt": "2026-11-24T09:30:00.000Z"});
    let eddsa_token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(pkcs8.as_ref())).unwrap();
    assert!(runtime.block_on(eddsa.verify(&eddsa_token)).is_ok());
    assert!(runtime.block_on(hs256.verify(&hs256_token)).is_ok());

    let mut group = c.benchmark_group("verify_token");
    group.bench_function("hs256_shared_secret", |b| {
        b.to_async(&runtime).iter(|| hs256.verify(&hs256_token))
    });
    group.bench_function("eddsa_jwks_cached_key", |b| {
        b.to_async(&runtime).iter(|| eddsa.verify(&eddsa_token))
    });
    group.finish();
}

/// What the list route does after the query: 50 tasks to response bytes.
fn serialization(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let at = chrono::Utc::now();
    let tasks: Vec<Task> = (0..50)
        .map(|i| Task {
            id: 1000 + i,
            user_id: UserId::new("kX9vQ2mN7pL4rT8wY1zB3cD5fG6hJ0aS"),
            title: format!("Task number {i} of the day"),
            description: (i % 3 != 0)
                .then(|| format!("A description of task {i}, about sixty characters long.")),
            completed: i % 2 == 0,
            priority: Default::default(),
            tags: Default::default(),
            due: None,
            recurrence: None,
            reminders: Default::default(),
            created_at: at,
            updated_at: at,
            version: 1000 + i,
            trashed_at: None,
        })
        .collect();
    c.bench_function("serialize_50_task_list", |b| {
        b.to_async(&runtime).iter(|| async {
            let json: Vec<TaskJson> = tasks.iter().cloned().map(TaskJson::from).collect();
            let response = FastJson(json).into_response();
            response.into_body().into_bytes().await.unwrap().len()
        })
    });
}

criterion_group!(benches, verification, serialization);
criterion_main!(benches);
