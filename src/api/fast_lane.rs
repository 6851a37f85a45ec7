//! The fast lane: a plain `GET /api/{user_id}/tasks/{id}`, the most frequent
//! request, answered without poem's router, its path normalisation and the
//! operation's extractors, which together cost about as much as everything
//! else a read of one task does (bench/results/instructions.md).
//!
//! It runs the same code as the `get_task` operation (the bearer check, then
//! `tasks::read_task`) and answers byte for byte as it would: only requests
//! on which those skipped layers do nothing take it, and every other request,
//! including any that one of them would refuse, goes the usual way. The
//! layer around both, `app::Front` (CORS, request ids, rate-limit headers,
//! metrics, logs, the timeout, problem JSON), is the same; the fast lane gets
//! the state and the allowance from it directly, not as request data.
//! tests/api/fast_lane.rs holds the two lanes to the same bytes.

use poem::{
    Request, Response,
    http::{Method, header},
    web::headers::{Authorization, HeaderMapExt, authorization::Bearer},
};
use poem_openapi::error::AuthorizationError;

use super::{AppState, rate_limit::AllowanceSlot, security, tasks};

/// The operation whose answers the fast lane gives.
pub const OPERATION: &str = "get_task";

/// A request the fast lane answers: the user id's place in its path, and the
/// task id.
pub struct GetTask {
    user: std::ops::Range<usize>,
    id: i64,
}

impl GetTask {
    /// `req`, when the fast lane answers it: `GET`, a path of exactly
    /// `/api/{user_id}/tasks/{id}` with a user id that needs no decoding and
    /// an id of at most 18 digits (always a valid `i64`), no query, no body,
    /// no `If-Match` (the operation refuses one) and `If-None-Match` values
    /// that are text.
    pub fn of(req: &Request) -> Option<Self> {
        if req.method() != Method::GET || req.uri().query().is_some() {
            return None;
        }
        let path = req.uri().path();
        let rest = path.strip_prefix("/api/")?;
        let (user, rest) = rest.split_once('/')?;
        let id = rest.strip_prefix("tasks/")?;
        let plain_user = !user.is_empty() && !user.contains('%');
        let plain_id = (1..=18).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_digit());
        if !plain_user || !plain_id {
            return None;
        }
        // One pass over the headers (a request has a handful) instead of a
        // lookup of each name.
        for (name, value) in req.headers() {
            let usual_way = match *name {
                header::IF_MATCH | header::TRANSFER_ENCODING => true,
                header::CONTENT_LENGTH => value != "0",
                header::IF_NONE_MATCH => value.to_str().is_err(),
                _ => false,
            };
            if usual_way {
                return None;
            }
        }
        let start = "/api/".len();
        Some(Self {
            user: start..start + user.len(),
            id: id.parse().ok()?,
        })
    }

    /// What `get_task` answers to `req` (the request `of` took). The
    /// allowance the token's user has left goes in `allowance`.
    pub async fn answer(
        self,
        state: &AppState,
        req: &Request,
        allowance: &AllowanceSlot,
    ) -> poem::Result<Response> {
        // What poem-openapi's `Bearer` extractor reads, without copying the
        // token into a `String` of its own.
        let bearer = req
            .headers()
            .typed_get::<Authorization<Bearer>>()
            .ok_or(AuthorizationError)?;
        let path_user = &req.uri().path()[self.user];
        let owner = security::owner_of(state, bearer.token(), path_user, Some(allowance)).await?;
        let read = tasks::read_task(state, &owner, self.id, req).await?;
        Ok(read.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(method: Method, uri: &str, headers: &[(&str, &str)]) -> Option<(String, i64)> {
        let mut req = Request::builder().method(method).uri_str(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.finish();
        GetTask::of(&req).map(|get| (req.uri().path()[get.user].to_owned(), get.id))
    }

    #[test]
    fn a_plain_read_of_one_task_takes_the_fast_lane() {
        let get = |uri| taken(Method::GET, uri, &[("authorization", "Bearer x")]);
        assert_eq!(get("/api/alice/tasks/42"), Some(("alice".to_owned(), 42)));
        assert_eq!(
            get("/api/a.b-c_d@e/tasks/007"),
            Some(("a.b-c_d@e".to_owned(), 7))
        );
        let max = "/api/u/tasks/999999999999999999";
        assert_eq!(get(max), Some(("u".to_owned(), 999_999_999_999_999_999)));
        let tags = [("if-none-match", "W/\"3\""), ("content-length", "0")];
        assert!(taken(Method::GET, "/api/u/tasks/1", &tags).is_some());
    }

    #[test]
    fn anything_the_router_or_an_extractor_would_act_on_goes_the_usual_way() {
        for uri in [
            "/api/u/tasks/1?x=1",
            "/api/u/tasks/1/",
            "/api/u/tasks/1/complete",
            "/api/u/tasks/",
            "/api/u/tasks",
            "/api//tasks/1",
            "/api/u%20v/tasks/1",
            "/api/u/tasks/%31",
            "/api/u/tasks/-1",
            "/api/u/tasks/+1",
            "/api/u/tasks/1e3",
            "/api/u/tasks/9999999999999999999",
            "/api/u/trash/1",
            "/api/u/x/tasks/1",
            "//api/u/tasks/1",
            "/api/u/tasks//1",
        ] {
            assert_eq!(taken(Method::GET, uri, &[]), None, "{uri}");
        }
        for method in [Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
            assert_eq!(
                taken(method.clone(), "/api/u/tasks/1", &[]),
                None,
                "{method}"
            );
        }
        for headers in [
            [("if-match", "\"1\"")],
            [("content-length", "2")],
            [("transfer-encoding", "chunked")],
        ] {
            assert_eq!(
                taken(Method::GET, "/api/u/tasks/1", &headers),
                None,
                "{headers:?}"
            );
        }
    }
}
