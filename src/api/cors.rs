//! CORS, as the Fetch standard's CORS protocol has it.
//!
//! poem's own `Cors` answers a request from an origin it does not allow with a
//! 403 `text/plain` on every route, compares origins without the request's
//! `Host`, and sends `Vary: Origin` only sometimes. This one:
//!
//! - answers every request as usual, adding `Access-Control-Allow-Origin` only
//!   for an allowed origin: for any other the browser keeps the answer from the
//!   page, which is all CORS is for (a non-browser client reads anything anyway);
//! - refuses only a preflight (`OPTIONS` with `Access-Control-Request-Method`)
//!   from an origin not allowed, or asking for a method or header not allowed:
//!   a 403 problem, like every other error of the API;
//! - logs each refusal at `info`, with the origin (never another header, so
//!   never a token);
//! - sends `Vary: Origin` on every response, since whether it carries the CORS
//!   headers depends on the `Origin` of the request.
//!
//! Allowed are the origins of `CORS_ORIGINS` and the server's own (see
//! [`is_own_origin`]).

use poem::{
    Request, Response,
    error::ResponseError,
    http::{HeaderMap, HeaderValue, Method, header},
};

use super::problem::ApiError;

/// The methods a browser page may use cross-origin. (`HEAD` needs no listing:
/// like `GET` and `POST`, the browser allows it whatever the list says.)
const ALLOW_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// The request headers it may send: lowercase, as browsers list them. The
/// `mcp-*` ones are what MCP clients send to `/mcp`.
const ALLOW_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
];
/// The response headers it may read besides the CORS-safelisted ones.
const EXPOSE_HEADERS: &str = "etag, idempotent-replayed, link, location, retry-after, www-authenticate, x-request-id, x-total-count";
/// How long the browser may cache an accepted preflight, in seconds.
const MAX_AGE_SECS: &str = "3600";

/// The CORS rules: `origins` (from `CORS_ORIGINS`) and the server's own
/// origin are allowed. [`Cors::begin`] before a request runs,
/// [`Cors::finish`] on its response (`app::Front` calls both).
pub struct Cors {
    origins: Vec<String>,
}

/// What a request gets from [`Cors::begin`].
pub enum Begin {
    /// A preflight: its whole answer. The routes never see it.
    Preflight(Response),
    /// Anything else runs as usual; the allowed `Origin`, if it has one, is
    /// for [`Cors::finish`].
    Run(Option<HeaderValue>),
}

impl Cors {
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: origins.to_vec(),
        }
    }

    pub fn begin(&self, req: &Request) -> Begin {
        let origin = req.headers().get(header::ORIGIN);
        let allowed = origin.is_some_and(|origin| {
            let origin = origin.to_str().unwrap_or_default();
            self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
                || is_own_origin(origin, req)
        });
        let preflight_method = req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD);
        match (origin, preflight_method) {
            // A preflight: the browser asks before a request that is not
            // "simple" (any with `Authorization`, a JSON body, PUT…).
            (Some(origin), Some(method)) if req.method() == Method::OPTIONS => Begin::Preflight(
                Self::finish(None, preflight(origin, allowed, method, req.headers())),
            ),
            // A page of an origin not allowed gets only simple requests this
            // far (its preflights are refused), and none of those carries a
            // token: its answer is merely kept from the page.
            (Some(origin), _) if !allowed => {
                tracing::info!(
                    target: "todo_api::cors",
                    origin = %String::from_utf8_lossy(origin.as_bytes()),
                    "a cross-origin request from an origin not in CORS_ORIGINS: answered \
                     without Access-Control-Allow-Origin, so the browser hides the answer \
                     from the page; add the origin to CORS_ORIGINS to allow it",
                );
                Begin::Run(None)
            }
            (origin, _) => Begin::Run(origin.cloned()),
        }
    }

    /// `response`, with the CORS headers for `allowed` (what
    /// [`Begin::Run`] held).
    pub fn finish(allowed: Option<HeaderValue>, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Some(origin) = allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        response
    }
}

/// The answer to a preflight: the grant, or a 403 problem saying what is not
/// allowed.
fn preflight(
    origin: &HeaderValue,
    allowed: bool,
    method: &HeaderValue,
    headers: &HeaderMap,
) -> Response {
    let origin_text = String::from_utf8_lossy(origin.as_bytes());
    let method = String::from_utf8_lossy(method.as_bytes());
    let method = method.trim();
    let refusal = if !allowed {
        Some(format!(
            "the origin {origin_text} may not call this API from a browser: the server's \
             CORS_ORIGINS does not list it"
        ))
    } else if !(ALLOW_METHODS.contains(&method) || method == "HEAD") {
        Some(format!(
            "the method {method} may not be used from a browser; allowed: {}",
            ALLOW_METHODS.join(", ")
        ))
    } else {
        // Every header asked for must be allowed.
        let requested = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        let refused: Vec<&str> = requested
            .split(',')
            .map(str::trim)
            .filter(|name| {
                !name.is_empty() && !ALLOW_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
            .collect();
        (!refused.is_empty()).then(|| {
            format!(
                "the request header(s) {} may not be sent from a browser; allowed: {}",
                refused.join(", "),
                ALLOW_HEADERS.join(", ")
            )
        })
    };

    if let Some(detail) = refusal {
        tracing::info!(target: "todo_api::cors", origin = %origin_text, %method, "CORS preflight refused: {detail}");
        return ApiError::CorsRefused(detail).as_response();
    }
    Response::builder()
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone())
        .header(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            ALLOW_METHODS.join(", "),
        )
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            ALLOW_HEADERS.join(", "),
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS)
        .finish()
}

/// Whether `origin` is the server's own, as the browser sees it: a page the
/// server itself serves (Swagger UI at `/docs`) calling the API is not
/// cross-origin, and no setting may refuse it.
///
/// The rule: the origin's `host[:port]` equals the host the request was sent
/// to — its `Host` (or, without one, the URI's authority), an `X-Forwarded-Host`
/// value, or a `host=` of `Forwarded` — with a port left out when it is the
/// default of the origin's scheme. The scheme is not compared: behind a proxy
/// that ends TLS the server cannot know it.
///
/// The forwarded headers are there because a reverse proxy may rewrite `Host`
/// to the upstream's address (nginx's default) and pass the browser's host on
/// in them. Trusting them (and `Host`) gives nothing away: CORS protects the
/// browser's user, not the server. A page cannot set `Host`, and cannot send
/// `X-Forwarded-Host` or `Forwarded` cross-origin without a preflight, which
/// is refused (they are not in `ALLOW_HEADERS`); a client that is not a
/// browser is not bound by CORS anyway. Nor could a forged match gain
/// anything: the API's credentials are bearer tokens, never sent by the
/// browser on its own.
fn is_own_origin(origin: &str, req: &Request) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let same = |host: &str| {
        let host = host.trim().trim_matches('"');
        let host = host.strip_suffix(default_port).unwrap_or(host);
        !host.is_empty() && host.eq_ignore_ascii_case(authority)
    };
    let values = |name| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
    };
    let host = values(header::HOST.as_str())
        .next()
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let forwarded_hosts = values("x-forwarded-host").flat_map(|list| list.split(','));
    // `Forwarded: for=…;proto=https;host=api.example.com, for=…` (RFC 7239).
    let forwarded = values(header::FORWARDED.as_str())
        .flat_map(|list| list.split([',', ';']))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim().eq_ignore_ascii_case("host").then_some(value)
        });
    host.into_iter()
        .chain(forwarded_hosts)
        .chain(forwarded)
        .any(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(origin: &str, headers: &[(&str, &str)]) -> bool {
        let mut req = Request::builder();
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        is_own_origin(origin, &req.finish())
    }

    #[test]
    fn the_own_origin_is_the_host_the_request_was_sent_to() {
        let host = |h| [("host", h)];
        assert!(own("http://127.0.0.1:8000", &host("127.0.0.1:8000")));
        assert!(own("http://LOCALHOST:8000", &host("localhost:8000")));
        assert!(own("http://[::1]:8000", &host("[::1]:8000")));
        assert!(own("https://api.example.com", &host("api.example.com")));
        assert!(own("https://api.example.com", &host("api.example.com:443")));
        assert!(own("http://api.example.com", &host("api.example.com:80")));
        assert!(!own("http://api.example.com", &host("api.example.com:443")));
        assert!(!own("http://127.0.0.1:8001", &host("127.0.0.1:8000")));
        assert!(!own("http://127.0.0.1", &host("127.0.0.1:8000")));
        assert!(!own("http://127.0.0.1:8000", &[]));
        assert!(!own("null", &host("127.0.0.1:8000")));
        assert!(!own("http://", &[("host", "")]));
        assert!(!own("ftp://a.example", &host("a.example")));
    }

    #[test]
    fn a_proxy_may_pass_the_browsers_host_on() {
        let behind = |name, value| [("host", "10.0.0.2:8000"), (name, value)];
        let origin = "https://api.example.com";
        assert!(own(origin, &behind("x-forwarded-host", "api.example.com")));
        assert!(own(
            origin,
            &behind("x-forwarded-host", "a.example, api.example.com")
        ));
        assert!(own(
            origin,
            &behind(
                "forwarded",
                "for=192.0.2.60;proto=https;host=api.example.com"
            )
        ));
        assert!(own(
            origin,
            &behind("forwarded", "host=\"api.example.com:443\"")
        ));
        assert!(!own(origin, &behind("forwarded", "for=api.example.com")));
        assert!(!own(origin, &behind("x-forwarded-for", "api.example.com")));
    }
}
