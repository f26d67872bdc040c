//! OpenTelemetry export of the real binary to a real OTLP/HTTP receiver on loopback: a
//! request continuing an incoming W3C trace, its unit of work as a child, the email job
//! it queued and the send inside it; and a collector that never answers costing nothing
//! but spans.

use std::time::{Duration, Instant};

use tenantbase_testkit::otlp_receiver::{OtlpReceiver, ReceivedSpan};

use crate::process::{Server, client, tenantbase};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| s.name == name)
}

/// The request's span, its unit of work, and the mail job's run and send, all received.
fn complete(spans: &[ReceivedSpan]) -> bool {
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/auth/register" && s.trace_id == TRACE_ID);
    let unit = request.and_then(|r| spans.iter().find(|s| s.parent_span_id == r.span_id));
    let job = named(spans, "job mail.send");
    let send = job.and_then(|j| {
        spans
            .iter()
            .find(|s| s.name == "mail.send" && s.parent_span_id == j.span_id)
    });
    unit.is_some() && send.is_some()
}

async fn spans_of_a_traced_request(postgres: bool) {
    let receiver = OtlpReceiver::start().await;
    let database = if postgres {
        Some(tenantbase_testkit::fresh_database().await)
    } else {
        None
    };
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    command
        .env("TENANTBASE_TELEMETRY__OTLP_ENDPOINT", &receiver.endpoint)
        .env(
            "TENANTBASE_TELEMETRY__SERVICE_NAME",
            "tenantbase-under-test",
        );
    if let Some(database) = &database {
        command.env("DATABASE_URL", &database.url);
    }
    let mut server = Server::start(&mut command);

    let response = client()
        .post(server.url("/v1/auth/register"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .header("x-request-id", "traced-register")
        .json(&serde_json::json!({
            "email": "ada@example.com",
            "password": "correct horse battery staple"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    let line = server.wait_for_line(|l| {
        l["message"] == "request" && l["span"]["request_id"] == "traced-register"
    });
    assert_eq!(
        line["span"]["trace_id"], TRACE_ID,
        "the request's log line names the trace it continued: {line}"
    );

    let spans = receiver.wait_for(Duration::from_secs(30), complete).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(complete(&spans), "spans received: {names:?}");
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/auth/register" && s.trace_id == TRACE_ID)
        .expect("request span");
    assert_eq!(
        request.parent_span_id, CALLER_SPAN,
        "continues the caller's span"
    );
    assert_eq!(request.attribute("http.route"), Some("/v1/auth/register"));
    assert_eq!(request.attribute("http.request.method"), Some("POST"));
    assert_eq!(request.attribute("http.response.status_code"), Some("201"));
    assert_eq!(request.attribute("request_id"), Some("traced-register"));
    assert_eq!(
        request.service_name.as_deref(),
        Some("tenantbase-under-test")
    );
    let unit = spans
        .iter()
        .find(|s| s.parent_span_id == request.span_id)
        .expect("a child of the request");
    assert!(unit.name.starts_with("db "), "{unit:?}");
    assert_eq!(unit.trace_id, TRACE_ID);
    let system = if postgres { "postgresql" } else { "sqlite" };
    assert_eq!(unit.attribute("db.system.name"), Some(system));
    let job = named(&spans, "job mail.send").expect("job span");
    assert_eq!(job.attribute("job.kind"), Some("mail.send"));
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(
                !value.contains("ada@example.com"),
                "no address in span {} ({key})",
                span.name
            );
        }
    }
}

#[tokio::test]
async fn spans_of_a_traced_request_sqlite() {
    spans_of_a_traced_request(false).await;
}

#[tokio::test]
async fn spans_of_a_traced_request_postgres() {
    spans_of_a_traced_request(true).await;
}

/// A collector that accepts connections and never answers: requests go on at full
/// speed, and shutdown gives up on the queued spans at `telemetry.export_timeout_ms`.
#[tokio::test]
async fn a_silent_collector_costs_spans_not_requests() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(
        tenantbase(dir.path())
            .env("TENANTBASE_TELEMETRY__OTLP_ENDPOINT", &endpoint)
            .env("TENANTBASE_TELEMETRY__EXPORT_TIMEOUT_MS", "1000")
            .env("TENANTBASE_TELEMETRY__QUEUE_SPANS", "64")
            .env("TENANTBASE_JOBS__WORKERS", "0"),
    );
    // One client: building one per request (its TLS roots) costs more than the request.
    let http = client();
    let started = Instant::now();
    for i in 0..200 {
        let response = http
            .get(server.url("/"))
            .header("x-request-id", format!("r{i}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
    }
    // Far more than 200 loopback requests need, far less than 200 waits on the collector.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "requests waited on the collector: {:?}",
        started.elapsed()
    );
    let stopping = Instant::now();
    server.terminate();
    let status = server.wait_exit();
    assert!(status.success(), "exit: {status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} on the collector",
        stopping.elapsed()
    );
    drop(silent);
}
