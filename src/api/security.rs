//! Who may call a task route: checked before anything else in the request, in
//! the contract's order — 401 (token) then 403 (path user ≠ token subject).

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::{AppState, problem::ApiError, rate_limit::AllowanceSlot};
use crate::{auth::AuthError, domain::UserId};

/// A JWT in `Authorization: Bearer <token>`; its `sub` (the Better Auth user id,
/// a string of at most 255 bytes of UTF-8 without NUL) must be the `user_id` in
/// the path, and it must carry `exp`, no further ahead than `JWT_MAX_TTL_SECS`
/// seconds when the server sets that maximum. Accepted, as the server is
/// configured: (1) tokens from Better Auth's `jwt()` plugin (EdDSA, ES256, RS256
/// or PS256, checked against Better Auth's JWKS; `iss` and `aud` are Better
/// Auth's origin) — a frontend gets one with `authClient.token()` or from
/// `GET /api/auth/token`; (2) HS256 tokens signed with the shared
/// `BETTER_AUTH_SECRET`, as a frontend mints them in its own route. No JWS
/// extension is supported: a token with a `crit` header is refused.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "authorize_owner"
)]
pub struct TaskOwner(pub UserId);

async fn authorize_owner(req: &Request, bearer: Bearer) -> poem::Result<UserId> {
    // Every secured route starts with `/api/{user_id}/`, and poem-openapi names
    // path parameters by position: `param0` is the user id, percent-decoded by
    // poem. (The tests check the 403 on every route.)
    let path_user = req.raw_path_param("param0").ok_or(ApiError::Internal)?;
    let state = req.data::<AppState>().ok_or(ApiError::Internal)?;
    owner_of(state, &bearer.token, path_user, req.extensions().get()).await
}

/// The owner a request may act for: the subject of its bearer `token`, which
/// must be `path_user` (the `{user_id}` of its path, decoded). A request from
/// outside takes one of the user's allowance and leaves what is left in
/// `allowance`; an MCP tool's in-process request has none (its `/mcp` request
/// paid for it).
pub(super) async fn owner_of(
    state: &AppState,
    token: &str,
    path_user: &str,
    allowance: Option<&AllowanceSlot>,
) -> poem::Result<UserId> {
    if token.is_empty() {
        // `Authorization: Bearer ` carries no credentials at all.
        return Err(ApiError::Unauthorized(AuthError::Missing).into());
    }
    let user = state.verifier.verify(token).await.map_err(ApiError::from)?;
    if let Some(slot) = allowance {
        state
            .limits
            .check_user(&user, Some(slot))
            .map_err(ApiError::RateLimited)?;
    }
    if path_user != user.as_str() {
        return Err(ApiError::Forbidden.into());
    }
    Ok(user)
}
