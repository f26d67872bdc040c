//! HTTP metrics: `http_requests_total` and `http_request_duration_seconds` by method, route
//! template and status, and `http_requests_in_flight`. Building the labels of a sample
//! (three strings) and finding its series in the recorder cost more than the rest of a
//! `/health` request's metrics, so each combination's handles are made once, the first
//! time it is seen, and found by borrowed keys after that. Templates, standard methods
//! and status codes are bounded sets, so the cache is too.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{Counter, Gauge, Histogram};

/// The request metrics of one router.
pub(crate) struct HttpMetrics {
    in_flight: Gauge,
    by_route: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

/// The handles of one method and status on one route.
struct Series {
    method: &'static str,
    status: StatusCode,
    requests: Counter,
    duration: Histogram,
}

impl Series {
    fn register(method: &'static str, route: &str, status: StatusCode) -> Self {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        Self {
            method,
            status,
            requests: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        }
    }

    fn is(&self, method: &str, status: StatusCode) -> bool {
        self.status == status && self.method == method
    }

    fn record(&self, duration: Duration) {
        self.requests.increment(1);
        self.duration.record(duration.as_secs_f64());
    }
}

impl HttpMetrics {
    /// Handles of the recorder installed now (`metrics_handle` installs ours).
    pub(crate) fn new() -> Self {
        Self {
            in_flight: metrics::gauge!("http_requests_in_flight"),
            by_route: RwLock::default(),
        }
    }

    /// Counts a request as in flight until the guard is dropped, also when the client
    /// goes away.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.increment(1.0);
        InFlight(&self.in_flight)
    }

    /// Records one answered request; `route` is its template or `unmatched`.
    pub(crate) fn record(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let method = method_label(method);
        if let Ok(by_route) = self.by_route.read()
            && let Some(series) = by_route
                .get(route)
                .and_then(|all| all.iter().find(|s| s.is(method, status)))
        {
            series.record(took);
            return;
        }
        let series = Series::register(method, route, status);
        series.record(took);
        if let Ok(mut by_route) = self.by_route.write() {
            let known = by_route.entry(route.into()).or_default();
            // Another request may have registered it meanwhile; both hold the same series.
            if !known.iter().any(|s| s.is(method, status)) {
                known.push(series);
            }
        }
    }
}

/// Guard of `HttpMetrics::start`.
pub(crate) struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The method's name; methods other than the standard ones (RFC 9110 and PATCH) share
/// `other`, so a client inventing methods cannot make series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(method_label(&invented), "other");
    }
}
