//! Prometheus metrics: the process-wide recorder, the per-request middleware, and the
//! `/metrics` router served on its own listener (`metrics_bind`).
//!
//! Names follow the Prometheus conventions: `_total` counters, `_seconds` histograms.
//! Use-case counters (tokens issued per grant, login failures) are recorded by
//! `latchkey-flows` through the same `metrics` facade.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_store::Store;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request latency buckets, seconds: fine below 25 ms, where the token endpoint lives.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The recorder's handle, installed on first use. `None` when the embedding program
/// installed its own recorder (ours then records into theirs).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Histogram samples wait in buffers until drained: drain them every few seconds
            // even when nobody scrapes, so memory stays flat under load.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("latchkey_http_requests_total", "HTTP requests answered, by endpoint, method and status");
    describe_histogram!(
        "latchkey_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by endpoint, method and status"
    );
    describe_counter!("latchkey_tokens_issued_total", "Token responses issued, by grant type");
    describe_counter!("latchkey_login_failures_total", "Failed logins, by reason (bad_credentials, throttled)");
    describe_counter!("latchkey_store_errors_total", "Requests failed by the database, by kind (unavailable, other)");
    describe_gauge!("latchkey_store_pool_connections", "Database pool connections, by state (in_use, idle, max)");
}

/// Middleware: counts and times each routed request by its route pattern (never the
/// raw path, so ids in paths do not multiply series).
pub async fn track(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let endpoint = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let labels =
        [("endpoint", endpoint), ("method", method.to_owned()), ("status", response.status().as_u16().to_string())];
    metrics::counter!("latchkey_http_requests_total", &labels).increment(1);
    metrics::histogram!("latchkey_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts a request the database failed.
pub fn store_error(kind: &'static str) {
    metrics::counter!("latchkey_store_errors_total", "kind" => kind).increment(1);
}

/// The router of the metrics listener: `GET /metrics` in the Prometheus text format.
pub fn router(store: Store) -> Router {
    Router::new().route("/metrics", get(render)).with_state(store)
}

async fn render(State(store): State<Store>) -> Response {
    let pool = store.pool_stats();
    let in_use = pool.open.saturating_sub(pool.idle);
    metrics::gauge!("latchkey_store_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("latchkey_store_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("latchkey_store_pool_connections", "state" => "max").set(f64::from(pool.max));
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
        .into_response()
}
