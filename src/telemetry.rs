//! Metrics, in Prometheus' text format at `/metrics`: the `metrics` facade
//! with metrics-exporter-prometheus's recorder. Every label takes values from
//! a fixed set (operation ids, statuses, tool names), never a raw path or a
//! user id, so the page stays the same size however many users there are.

use std::{cell::RefCell, sync::OnceLock, time::Duration};

use rustc_hash::FxHashMap;

use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{api::rate_limit::RateLimits, db::Database, live::Live};

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, in seconds: from a cached read to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed on first use (one per process: the
/// facade is global).
pub fn recorder() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    LATENCY_BUCKETS,
                )
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if something else installed a recorder first, which
            // nothing in this crate does.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "Requests answered, by operation and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from the request's arrival to its response, by operation."
    );
    describe_counter!(
        "db_errors_total",
        "Database failures: `unavailable` (answered 503) or `query` (answered 500)."
    );
    describe_gauge!(
        "db_pool_max_size",
        "Most database connections the pool holds."
    );
    describe_gauge!("db_pool_size", "Database connections open.");
    describe_gauge!("db_pool_in_use", "Database connections serving a request.");
    describe_gauge!(
        "db_pool_waiting",
        "Requests waiting for a database connection."
    );
    describe_gauge!(
        "db_shared_read_connections",
        "Shared PostgreSQL connections open for the hot reads (DB_READ_CONNECTIONS)."
    );
    describe_gauge!(
        "live_event_streams",
        "Event streams (/events) open on this instance."
    );
    describe_counter!("reminders_fired_total", "Reminders this instance fired.");
    describe_gauge!(
        "rate_limit_tracked_callers",
        "Users and addresses the rate limiters remember (those whose allowance is not whole)."
    );
    describe_counter!(
        "mcp_tool_calls_total",
        "MCP tool calls, by tool and outcome."
    );
}

/// One answered request. `operation` is an operation id or one of the
/// fixed names of the routes outside the contract.
pub fn request(operation: &'static str, status: u16, elapsed: Duration) {
    REQUEST_METRICS.with_borrow_mut(|handles| {
        let (count, duration) = handles.entry((operation, status)).or_insert_with(|| {
            (
                counter!("http_requests_total", "operation" => operation, "status" => status.to_string()),
                histogram!("http_request_duration_seconds", "operation" => operation),
            )
        });
        count.increment(1);
        duration.record(elapsed.as_secs_f64());
    });
}

thread_local! {
    /// The handles `request` records to, made once per operation and status
    /// on each thread: looking a metric up by name and labels on every
    /// request cost more than the rest of `request`. Bounded: the labels
    /// come from fixed sets. A handle made before the recorder was installed
    /// would record nothing: the server installs it before it serves.
    static REQUEST_METRICS: RefCell<FxHashMap<RequestLabels, (Counter, Histogram)>> =
        RefCell::default();
}

/// An operation (or route name) and a status.
type RequestLabels = (&'static str, u16);

pub fn db_error(kind: &'static str) {
    counter!("db_errors_total", "kind" => kind).increment(1);
}

pub fn reminders_fired(count: usize) {
    counter!("reminders_fired_total").increment(count as u64);
}

pub fn tool_call(tool: &'static str, failed: bool) {
    let outcome = if failed { "error" } else { "ok" };
    counter!("mcp_tool_calls_total", "tool" => tool, "outcome" => outcome).increment(1);
}

/// The page: the gauges read now, then everything recorded.
pub fn render(
    recorder: &PrometheusHandle,
    db: &Database,
    live: &Live,
    limits: &RateLimits,
) -> String {
    let pool = db.pool_status();
    gauge!("db_pool_max_size").set(pool.max_size as f64);
    gauge!("db_pool_size").set(pool.size as f64);
    gauge!("db_pool_in_use").set(pool.in_use as f64);
    gauge!("db_pool_waiting").set(pool.waiting as f64);
    gauge!("db_shared_read_connections").set(db.shared_reads_open() as f64);
    gauge!("live_event_streams").set(*live.hub.open_streams().borrow() as f64);
    gauge!("rate_limit_tracked_callers").set(limits.tracked() as f64);
    recorder.render()
}
