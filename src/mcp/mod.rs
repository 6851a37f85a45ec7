//! `/mcp`: a Model Context Protocol server for AI agents, over the same tasks,
//! the same tokens and the same rules as the REST API.
//!
//! The official Rust SDK (`rmcp`) serves Streamable HTTP statelessly (no
//! session: any instance answers any request, with or without `initialize`),
//! answering plain JSON. In front of it, [`authenticate`] refuses a request
//! without an acceptable bearer token with the REST API's 401 before the SDK
//! reads it. Each tool is one or two REST operations run in-process through
//! the REST routes ([`rest::Rest`]): validation, ownership, idempotency keys,
//! conditional writes, quotas and live wake-ups are the REST ones, so an agent
//! can never do what the user could not. The tools carry no query of their own.

mod rest;
mod schema;
mod tools;

use std::sync::Arc;

use poem::{
    Endpoint, EndpointExt, Request, Response,
    endpoint::TowerCompatExt,
    http::HeaderValue,
    web::headers::{Authorization, HeaderMapExt, authorization::Bearer},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};
use tokio_util::sync::CancellationToken;

use crate::{
    api::{AppState, MAX_BODY_BYTES, problem::ApiError, rate_limit::AllowanceSlot},
    auth::{AuthError, TokenVerifier},
    domain::UserId,
};

pub use rest::Rest;

/// Who is calling, as [`authenticate`] found it: the tools act for this user
/// only, with this `Authorization` header.
#[derive(Clone)]
pub struct Caller {
    user: UserId,
    authorization: HeaderValue,
}

/// The `/mcp` endpoint. `allowed_hosts` are the `Host` values it answers
/// (`MCP_ALLOWED_HOSTS`; `*` answers any); `stop` ends it at shutdown.
pub fn endpoint(
    rest: Rest,
    verifier: Arc<TokenVerifier>,
    allowed_hosts: &[String],
    stop: CancellationToken,
) -> impl Endpoint<Output = Response> + use<> {
    let config = StreamableHttpServerConfig::default()
        // Stateless: no session to find on another instance.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(stop);
    let config = if allowed_hosts.iter().any(|host| host == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(allowed_hosts.iter().cloned())
    };
    let tools = tools::TaskTools::new(rest);
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    service
        .compat()
        .around(move |next, req| authenticate(next, req, Arc::clone(&verifier)))
}

/// The REST API's 401 (with `WWW-Authenticate`) for a request without an
/// acceptable token; otherwise the request goes on, knowing its [`Caller`].
async fn authenticate<E: Endpoint>(
    next: Arc<E>,
    mut req: Request,
    verifier: Arc<TokenVerifier>,
) -> poem::Result<Response> {
    let token = req
        .headers()
        .typed_get::<Authorization<Bearer>>()
        .map(|header| header.token().to_owned())
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized(AuthError::Missing))?;
    let user = verifier.verify(&token).await.map_err(ApiError::from)?;
    // One of the user's allowance per /mcp request; the tool's REST requests
    // run without a slot and take none.
    if let (Some(state), Some(slot)) = (
        req.data::<AppState>(),
        req.extensions().get::<AllowanceSlot>(),
    ) {
        state
            .limits
            .check_user(&user, Some(slot))
            .map_err(ApiError::RateLimited)?;
    }
    let authorization = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .cloned()
        .ok_or(ApiError::Unauthorized(AuthError::Missing))?;
    req.extensions_mut().insert(Caller {
        user,
        authorization,
    });
    next.call(req).await.map(poem::IntoResponse::into_response)
}
