//! Who may call a task route: checked before anything else in the request, in
//! the contract's order — 401 (token) then 403 (path user ≠ token subject).

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::{AppState, problem::ApiError};
use crate::domain::UserId;

/// A JWT in `Authorization: Bearer <token>`. Accepted: HS256 tokens signed with
/// the backend's `BETTER_AUTH_SECRET` (the frontend mints them for the signed-in
/// Better Auth user, `sub` = user id, with an `exp`). The token's subject must be
/// the `user_id` in the path.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "authorize_owner"
)]
pub struct TaskOwner(pub UserId);

async fn authorize_owner(req: &Request, bearer: Bearer) -> poem::Result<UserId> {
    let state = req.data::<AppState>().ok_or(ApiError::Internal)?;
    let user = state
        .verifier
        .verify(&bearer.token)
        .map_err(ApiError::from)?;
    // Every secured route starts with `/api/{user_id}/`, and poem-openapi names
    // path parameters by position: `param0` is the user id, percent-decoded by
    // poem. (The tests check the 403 on every route.)
    match req.raw_path_param("param0") {
        Some(path_user) if path_user != user.as_str() => Err(ApiError::Forbidden.into()),
        _ => Ok(user),
    }
}
