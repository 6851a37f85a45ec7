//! The REST operations, run in-process (no socket) on behalf of a tool call,
//! and their answers read back for the tool's result.

use std::sync::Arc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use poem::{
    Endpoint, EndpointExt, Request, Response,
    endpoint::BoxEndpoint,
    http::{Method, StatusCode, Uri, header},
};
use serde_json::Value;

use super::Caller;

/// The REST routes with their state, errors rendered as problem JSON.
#[derive(Clone)]
pub struct Rest(Arc<BoxEndpoint<'static, Response>>);

impl Rest {
    pub fn new(routes: impl Endpoint<Output = Response> + 'static) -> Self {
        Self(Arc::new(routes.boxed()))
    }

    /// Runs one REST request as `caller`. `path` starts after `/api/{user_id}`.
    pub async fn send(&self, caller: &Caller, call: Call<'_>) -> Reply {
        let mut target = format!("/api/{}{}", segment(caller.user.as_str()), call.path);
        let mut separator = '?';
        for (name, value) in &call.query {
            target.push(separator);
            target.push_str(name);
            target.push('=');
            target.push_str(&segment(value));
            separator = '&';
        }
        let uri: Uri = match target.parse() {
            Ok(uri) => uri,
            Err(_) => return Reply::refused("the arguments do not make a valid request"),
        };
        let mut request = Request::builder()
            .method(call.method)
            .uri(uri)
            .header(header::AUTHORIZATION, caller.authorization.clone());
        if let Some(key) = call.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if let Some(version) = call.expected_version {
            request = request.header(header::IF_MATCH, format!("\"{version}\""));
        }
        let request = match call.body {
            Some(body) => request
                .content_type("application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default()),
            None => request.finish(),
        };
        let response = match self.0.call(request).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        };
        Reply::read(response).await
    }
}

/// A path segment or query value, percent-encoded.
fn segment(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

/// One REST request a tool makes.
pub struct Call<'a> {
    pub method: Method,
    /// After `/api/{user_id}`: `/tasks`, `/tasks/5/complete`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub idempotency_key: Option<&'a str>,
    /// Sent as `If-Match: "N"`.
    pub expected_version: Option<i64>,
}

impl Call<'_> {
    pub fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            expected_version: None,
        }
    }
}

/// What the REST API answered.
pub struct Reply {
    pub status: StatusCode,
    /// The JSON body (a task, a list, a problem), `Null` when there is none.
    pub body: Value,
    /// `Link: <…>; rel="next"`, when more follow.
    pub next: Option<String>,
    pub total: Option<u64>,
    /// `Idempotent-Replayed: true`: the stored answer of an earlier call.
    pub replayed: bool,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let next = header("link");
        let total = header("x-total-count").and_then(|total| total.parse().ok());
        let replayed = header("idempotent-replayed").is_some_and(|value| value == "true");
        let status = response.status();
        let body = response.into_body().into_vec().await.unwrap_or_default();
        Self {
            status,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            next,
            total,
            replayed,
        }
    }

    /// A 422 made here, before any request was sent.
    fn refused(detail: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: serde_json::json!({ "title": "Invalid arguments", "detail": detail }),
            next: None,
            total: None,
            replayed: false,
        }
    }

    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The problem's `detail` and, for invalid fields, each field's message:
    /// what the model reads to correct its call.
    pub fn problem_text(&self) -> String {
        let detail = self.body["detail"]
            .as_str()
            .or_else(|| self.status.canonical_reason())
            .unwrap_or("the request failed");
        let mut text = format!("{detail} (HTTP {})", self.status.as_u16());
        if self.status == StatusCode::NOT_FOUND {
            text.push_str(": list_tasks shows the user's tasks and their ids");
        }
        if let Some(errors) = self.body["errors"].as_array() {
            for error in errors {
                if let (Some(field), Some(message)) =
                    (error["field"].as_str(), error["message"].as_str())
                {
                    text.push_str(&format!("\n- {field}: {message}"));
                }
            }
        }
        text
    }

    /// The `cursor` of the next page, from `Link`.
    pub fn next_cursor(&self) -> Option<String> {
        let link = self.next.as_deref()?;
        let target = link.strip_prefix('<')?.split('>').next()?;
        let query = target.split_once('?')?.1;
        let value = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("cursor="))?;
        Some(
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned(),
        )
    }
}
