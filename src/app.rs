//! The one place the server is assembled: routes, Swagger UI, middleware, state.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    endpoint::make_sync,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{NormalizePath, TrailingSlash},
    web::{Html, Redirect},
};
use poem_openapi::OperationId;

use tracing::Instrument;

use crate::{
    api::{
        self, AppState,
        cors::{Begin, Cors},
        fast_lane::{self, GetTask},
        operations::Operations,
        problem,
        rate_limit::AllowanceSlot,
        request_id::{self, RequestId},
    },
    mcp, telemetry,
};

/// The REST operations alone, errors rendered as problem JSON: what the MCP
/// tools run in-process, so that they follow the REST API's every rule.
fn rest_operations(state: AppState, operations: Arc<Operations>) -> mcp::Rest {
    mcp::Rest::new(
        Route::new()
            .nest("/", api::service())
            .around(move |next, req| {
                let operations = Arc::clone(&operations);
                async move {
                    let path = req.uri().path().to_owned();
                    Ok(respond(next.call(req).await, &operations, &path, None).0)
                }
            })
            .data(state),
    )
}

/// Builds the complete HTTP application. `request_timeout` bounds every
/// request: past it the client gets a 503. `/mcp` answers the `Host` values
/// in `mcp_allowed_hosts` (`*`: any).
pub fn build_app(
    state: AppState,
    cors_origins: &[String],
    request_timeout: Duration,
    mcp_allowed_hosts: &[String],
) -> impl Endpoint<Output = Response> + use<> {
    let service = api::service();
    let operations = Arc::new(Operations::from_spec(&service.spec()));
    let mcp = mcp::endpoint(
        rest_operations(state.clone(), Arc::clone(&operations)),
        Arc::clone(&state.verifier),
        mcp_allowed_hosts,
        state.live.stop.child_token(),
    );
    let docs = api::docs::swagger_ui_page(&service.swagger_ui_html());
    let redoc = api::docs::redoc_page(&service.redoc_html());
    let metrics = state.metrics.clone().map(|recorder| {
        let (db, live, limits) = (
            state.db.clone(),
            state.live.clone(),
            Arc::clone(&state.limits),
        );
        make_sync(move |_| {
            Response::builder()
                .content_type("text/plain; version=0.0.4; charset=utf-8")
                .body(telemetry::render(&recorder, &db, &live, &limits))
        })
    });
    let spec_json = service.spec_endpoint();
    let spec_yaml = service.spec_endpoint_yaml();

    let routes = Route::new().nest("/", service);
    let routes = match metrics {
        Some(metrics) => routes.at("/metrics", metrics),
        None => routes,
    };
    let routes = routes
        .at("/docs", make_sync(move |_| Html(docs.clone())))
        .at("/redoc", make_sync(move |_| Html(redoc.clone())))
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        .at("/mcp", mcp)
        .around(root_to_docs)
        .with(NormalizePath::new(TrailingSlash::Trim));
    Front {
        routes,
        state,
        cors: Cors::new(cors_origins),
        operations,
        timeout: request_timeout,
    }
}

/// `GET /` is for a person who typed the server's address: they get Swagger
/// UI. A temporary redirect (307), since a permanent one would stay in
/// browsers' caches whatever `/` becomes. Not a route of its own: poem's
/// router cannot hold `/` next to the service nested at `/`.
async fn root_to_docs<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    if req.uri().path() == "/" && [Method::GET, Method::HEAD].contains(req.method()) {
        return Ok(Redirect::temporary("/docs").into_response());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// Reads a request body into memory, but never more than one byte past
/// `limit`: enough for the payload extractor to answer 413 in its turn.
async fn read_body(body: poem::Body, limit: usize) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut read = Vec::new();
    body.into_async_read()
        .take(limit as u64 + 1)
        .read_to_end(&mut read)
        .await?;
    Ok(read)
}

/// Receives the request, then runs it, both within `timeout`: a body still
/// arriving at the deadline is the client's slowness (408), anything later
/// is ours or the database's (503).
async fn run<E: Endpoint>(
    next: &E,
    mut req: Request,
    timeout: Duration,
) -> poem::Result<E::Output> {
    use problem::ApiError;
    let deadline = tokio::time::Instant::now() + timeout;
    let body = tokio::time::timeout_at(deadline, read_body(req.take_body(), api::MAX_BODY_BYTES))
        .await
        .map_err(|_| ApiError::RequestTimeout(timeout.as_secs()))?
        .map_err(|_| poem::Error::from_status(StatusCode::BAD_REQUEST))?;
    req.set_body(body);
    // Boxed: poem's layers below are kilobytes of future (each holds the
    // request and the next layer's future); inline, every layer above and
    // hyper would copy them again on every request.
    tokio::time::timeout_at(deadline, Box::pin(next.call(req)))
        .await
        .unwrap_or_else(|_| Err(ApiError::Unavailable.into()))
}

/// The response to send for `outcome`, every error rendered as problem JSON,
/// and the operation that answered (`id`, or the one poem-openapi tagged the
/// answer with), when known.
fn respond<'a, T: IntoResponse>(
    outcome: poem::Result<T>,
    operations: &'a Operations,
    path: &str,
    id: Option<&'static str>,
) -> (
    Response,
    Option<(&'static str, &'a api::operations::Operation)>,
) {
    let known = |tag: Option<&OperationId>| {
        let id = id.or(tag.map(|tag| tag.0))?;
        Some((id, operations.get(id)?))
    };
    match outcome {
        Ok(output) => {
            let response = output.into_response();
            let operation = known(response.data::<OperationId>());
            (response, operation)
        }
        Err(err) => {
            let operation = known(err.data::<OperationId>());
            let mut response = problem::render(err, operation.map(|(_, op)| op));
            if response.status() == StatusCode::METHOD_NOT_ALLOWED
                && let Some(allowed) = operations.allowed_methods(path)
                && let Ok(allowed) = HeaderValue::from_str(allowed)
            {
                // RFC 9110 §15.5.6: a 405 says which methods the route has.
                response.headers_mut().insert(header::ALLOW, allowed);
            }
            (response, operation)
        }
    }
}

/// The outermost layer, around every request: CORS, then the request id and
/// its span, the rate-limit headers, the timeout, problem JSON for every
/// error, one log line and the metrics. Inside it a request takes the fast
/// lane (`api::fast_lane`) or poem's router (`routes`), which alone needs the
/// state and the request id as request data. One layer of our own, not poem
/// middleware: each of those holds the request and the next layer's future,
/// kilobytes that hyper and every layer above copy on every request.
struct Front<E> {
    routes: E,
    state: AppState,
    cors: Cors,
    operations: Arc<Operations>,
    timeout: Duration,
}

impl<E: Endpoint> Endpoint for Front<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        Ok(match self.cors.begin(&req) {
            Begin::Preflight(response) => response,
            Begin::Run(origin) => Cors::finish(origin, self.handle(req).await),
        })
    }
}

impl<E: Endpoint> Front<E> {
    /// Never a header in the log line (so never a token) and never a raw
    /// path (it may hold anything). Everything logged while the request runs
    /// is in its span, which carries its `X-Request-Id`; the response carries
    /// it back.
    async fn handle(&self, req: Request) -> Response {
        let request_id = RequestId::of(&req);
        let span = tracing::info_span!("request", request_id = %request_id.as_str());
        let allowance = AllowanceSlot::default();
        let mut response = self
            .handle_in_span(req, &request_id, &allowance)
            .instrument(span)
            .await;
        if let Some(allowance) = allowance.get() {
            self.state
                .limits
                .add_headers(response.headers_mut(), Some(allowance));
        }
        response
            .headers_mut()
            .insert(request_id::HEADER_NAME, request_id.into_header_value());
        response
    }

    async fn handle_in_span(
        &self,
        mut req: Request,
        request_id: &RequestId,
        allowance: &AllowanceSlot,
    ) -> Response {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let address = match req.remote_addr().0 {
            poem::Addr::SocketAddr(address) => Some(address.ip()),
            _ => None,
        };
        let started = Instant::now();
        let (mut response, operation) = match GetTask::of(&req) {
            Some(get) => {
                let answer = get.answer(&self.state, &req, allowance);
                let outcome = tokio::time::timeout(self.timeout, answer)
                    .await
                    .unwrap_or_else(|_| Err(problem::ApiError::Unavailable.into()));
                respond(
                    outcome,
                    &self.operations,
                    uri.path(),
                    Some(fast_lane::OPERATION),
                )
            }
            None => {
                let data = req.extensions_mut();
                data.insert(self.state.clone());
                data.insert(request_id.clone());
                data.insert(allowance.clone());
                let outcome = run(&self.routes, req, self.timeout).await;
                respond(outcome, &self.operations, uri.path(), None)
            }
        };
        // A failed authentication counts against the address; past the limit
        // the answer is a 429 instead (a valid token is never held up by it).
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(address) = address
            && let Err(wait) = self.state.limits.check_failure(address)
        {
            response =
                poem::error::ResponseError::as_response(&problem::ApiError::TooManyFailures(wait));
        }
        let elapsed = started.elapsed();
        let (operation_id, route) = match operation {
            Some((id, op)) => (id, op.template.as_str()),
            None => (outside_the_contract(uri.path()), "-"),
        };
        let route = if uri.path() == "/mcp" { "/mcp" } else { route };
        telemetry::request(operation_id, response.status().as_u16(), elapsed);
        tracing::info!(
            target: "todo_api::request",
            %method,
            route,
            status = response.status().as_u16(),
            latency_us = elapsed.as_micros() as u64,
        );
        response
    }
}

/// The metrics label of a route that is not an OpenAPI operation: one of a
/// few names, never the path itself.
fn outside_the_contract(path: &str) -> &'static str {
    match path {
        "/mcp" => "mcp",
        "/metrics" => "metrics",
        "/" | "/docs" | "/redoc" | "/openapi.json" | "/openapi.yaml" => "docs",
        _ => "unmatched",
    }
}
