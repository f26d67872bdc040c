//! What every response carries: the request id, security headers, compression.

use axum::body::Body;
use axum::http::Request;

use crate::helpers::{Backend, TestApp, settings};

fn get_with(path: &str, name: &str, value: &str) -> Request<Body> {
    Request::get(path)
        .header(name, value)
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn a_well_formed_client_request_id_is_echoed() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = app
        .send(get_with("/health", "x-request-id", "client-id_1.2"))
        .await;
    assert_eq!(response.header("x-request-id"), Some("client-id_1.2"));
    let problem = app
        .send(get_with("/nope", "x-request-id", "client-id_3"))
        .await;
    assert_eq!(
        problem.problem(404, "route_not_found")["request_id"],
        "client-id_3"
    );
}

#[tokio::test]
async fn a_malformed_request_id_is_replaced() {
    let app = TestApp::new(Backend::Sqlite).await;
    let too_long = "a".repeat(200);
    for bad in ["has space", "quote\"d", too_long.as_str()] {
        let response = app.send(get_with("/health", "x-request-id", bad)).await;
        let id = response.header("x-request-id").expect("id");
        assert_ne!(id, bad);
        assert!(id.starts_with("req_") && id.len() == 36, "{id}");
    }
    let first = app.get("/health").await;
    let second = app.get("/health").await;
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::new(Backend::Sqlite).await;
    for path in ["/health", "/nope", "/openapi.json"] {
        let response = app.get(path).await;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert!(
            response.header("content-security-policy").is_some(),
            "{path}"
        );
        assert!(
            response.header("strict-transport-security").is_none(),
            "HSTS is off by default"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let mut http = settings();
    http.hsts_max_age_secs = Some(31_536_000);
    let app = TestApp::build(Backend::Sqlite, Default::default(), http).await;
    let response = app.get("/health").await;
    assert_eq!(
        response.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[tokio::test]
async fn responses_are_compressed_on_request() {
    let app = TestApp::new(Backend::Sqlite).await;
    let plain = app.get("/openapi.json").await;
    for encoding in ["gzip", "br"] {
        let response = app
            .send(get_with("/openapi.json", "accept-encoding", encoding))
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-encoding"), Some(encoding));
        assert!(
            response.body.len() < plain.body.len() / 2,
            "{encoding} compresses"
        );
    }
}
