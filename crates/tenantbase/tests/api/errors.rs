//! Every error is RFC 9457 problem+json with a stable code and the request id: errors from
//! handlers, from the router (404, 405), from limits (413, timeout) and from panics.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use tenantbase_http::{ApiError, ApiJson, AppState};
use tenantbase_store::StoreError;
use utoipa_axum::router::OpenApiRouter;

use crate::helpers::{BOTH, Backend, TestApp, settings};
use crate::tenants::Caller;

#[derive(Debug, Deserialize, serde::Serialize)]
struct Widget {
    name: String,
    size: u32,
}

/// Handlers that fail in each way, served through the production middleware.
fn failing_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/test/panic", get(panicking))
        .route(
            "/test/widgets",
            post(|ApiJson(widget): ApiJson<Widget>| async { Json(widget) }),
        )
        .route(
            "/test/status/{status}",
            get(|Path(status): Path<u16>| async move { error_for(status) }),
        )
        .route(
            "/test/conflict",
            get(|| async {
                ApiError::from(StoreError::Conflict {
                    constraint: "settings_pkey".to_owned(),
                })
            }),
        )
        .route(
            "/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
}

async fn panicking() -> &'static str {
    panic!("secret internal detail")
}

fn error_for(status: u16) -> ApiError {
    match status {
        400 => ApiError::bad_request("bad_thing", "Bad thing."),
        401 => ApiError::unauthorized("invalid_token", "The token is not valid."),
        403 => ApiError::forbidden("permission_denied", "Needs projects:write."),
        404 => ApiError::not_found("project_not_found", "No such project."),
        409 => ApiError::conflict("slug_taken", "The slug is taken."),
        429 => ApiError::too_many_requests("rate_limited", "Slow down."),
        503 => ApiError::unavailable("database_unavailable", "Try later."),
        _ => ApiError::internal(&std::io::Error::other("boom: secret internal detail")),
    }
}

async fn app() -> TestApp {
    let mut http = settings();
    http.body_limit_bytes = 1024;
    http.request_timeout = Duration::from_millis(300);
    TestApp::build(Backend::Sqlite, failing_routes(), http).await
}

#[tokio::test]
async fn handler_errors_keep_their_status_and_code() {
    let app = app().await;
    for (status, code) in [
        (400, "bad_thing"),
        (401, "invalid_token"),
        (403, "permission_denied"),
        (404, "project_not_found"),
        (409, "slug_taken"),
        (429, "rate_limited"),
        (503, "database_unavailable"),
    ] {
        app.get(&format!("/test/status/{status}"))
            .await
            .problem(status, code);
    }
}

#[tokio::test]
async fn internal_errors_hide_their_cause() {
    let app = app().await;
    let response = app.get("/test/status/500").await;
    response.problem(500, "internal_error");
    assert!(!response.text().contains("secret"));
}

#[tokio::test]
async fn store_conflicts_are_409_naming_the_constraint() {
    let app = app().await;
    let problem = app.get("/test/conflict").await.problem(409, "conflict");
    assert_eq!(problem["constraint"], "settings_pkey");
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_405() {
    let app = app().await;
    app.get("/v1/nothing/here")
        .await
        .problem(404, "route_not_found");
    let response = app
        .call(Method::DELETE, "/health", "application/json", "")
        .await;
    response.problem(405, "method_not_allowed");
    assert!(response.header("allow").expect("allow").contains("GET"));
}

/// A wrong method is the route's fault, not the caller's: 405 before any authentication,
/// whoever asks, on org and account routes alike.
#[tokio::test]
async fn wrong_method_on_guarded_routes_is_405_whoever_asks() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let stranger = Caller::guest(&app).await;
        let org = owner.create_org(&app, "M").await;
        let org_path = format!("/v1/orgs/{org}");
        for (method, path, allowed) in [
            (Method::PUT, org_path.as_str(), "GET"),
            (Method::GET, "/v1/auth/logout", "POST"),
        ] {
            for caller in [Some(&owner), Some(&stranger), None] {
                let response = match caller {
                    Some(caller) => caller.call(&app, method.clone(), path, None).await,
                    None => app.call(method.clone(), path, "application/json", "").await,
                };
                response.problem(405, "method_not_allowed");
                let allow = response.header("allow").expect("allow");
                assert!(
                    allow.contains(allowed),
                    "{backend:?} {method} {path}: {allow}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_panic_is_a_500_problem_and_the_server_keeps_serving() {
    let app = app().await;
    let response = app.get("/test/panic").await;
    response.problem(500, "internal_error");
    assert!(!response.text().contains("secret internal detail"));
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    assert_eq!(app.get("/test/panic").await.status, 500);
}

#[tokio::test]
async fn json_bodies_are_checked() {
    let app = app().await;
    let ok = app
        .call(
            Method::POST,
            "/test/widgets",
            "application/json",
            r#"{"name":"a","size":1}"#,
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["name"], "a");

    let wrong_type = app
        .call(
            Method::POST,
            "/test/widgets",
            "application/json",
            r#"{"name":"a","size":"big"}"#,
        )
        .await;
    let problem = wrong_type.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "size");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("invalid type")
    );

    let missing = app
        .call(
            Method::POST,
            "/test/widgets",
            "application/json",
            r#"{"size":1}"#,
        )
        .await;
    assert_eq!(
        missing.problem(422, "validation_failed")["errors"][0]["field"],
        "name"
    );

    app.call(
        Method::POST,
        "/test/widgets",
        "application/json",
        "{\"name\":",
    )
    .await
    .problem(400, "malformed_json");
    app.call(
        Method::POST,
        "/test/widgets",
        "text/plain",
        r#"{"name":"a","size":1}"#,
    )
    .await
    .problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn bodies_past_the_limit_are_413() {
    let app = app().await;
    let big = format!(r#"{{"name":"{}","size":1}}"#, "x".repeat(2048));
    app.call(
        Method::POST,
        "/test/widgets",
        "application/json",
        big.clone(),
    )
    .await
    .problem(413, "payload_too_large");
    // Without Content-Length (streamed), the limit holds too.
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..1000].to_owned()), Ok(big[1000..].to_owned())];
    let streamed = axum::body::Body::from_stream(futures::stream::iter(chunks));
    app.call(Method::POST, "/test/widgets", "application/json", streamed)
        .await
        .problem(413, "payload_too_large");
}

#[tokio::test]
async fn slow_requests_time_out_with_a_problem() {
    let app = app().await;
    let started = Instant::now();
    app.get("/test/slow")
        .await
        .problem(503, "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A client that sends its headers and part of its body, then stalls, is the one too slow:
/// 408 `request_timeout` at the request timeout, not a 503 counted against the server.
#[tokio::test]
async fn a_body_that_stops_arriving_is_408() {
    let app = app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await.expect("serve");
    });
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = "POST /test/widgets HTTP/1.1\r\nHost: test\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":";
    socket.write_all(head.as_bytes()).await.expect("send part");
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut socket))
        .await
        .expect("an answer within 10 s");
    server.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(answer.contains(r#""request_id":"#), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Clients that send half a body and stall hold their connections, not the write slots:
/// more of them than there are slots leave another client's write to go through at once.
#[tokio::test]
async fn bodies_that_stop_arriving_leave_writes_to_others() {
    use futures::StreamExt;
    use tower::ServiceExt;
    let app = app().await;
    // More than the app's 64 write slots.
    let stalled: Vec<_> = (0..70)
        .map(|_| {
            let part = futures::stream::iter([Ok::<_, std::io::Error>(r#"{"name":"#)]);
            let body = axum::body::Body::from_stream(part.chain(futures::stream::pending()));
            let request = axum::http::Request::post("/test/widgets")
                .header("content-type", "application/json")
                .body(body)
                .expect("request");
            tokio::spawn(app.router.clone().oneshot(request))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let whole = app
        .call(
            Method::POST,
            "/test/widgets",
            "application/json",
            r#"{"name":"a","size":1}"#,
        )
        .await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    for stalled in stalled {
        let answer = stalled.await.expect("request task").expect("infallible");
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
    }
}

/// The response's head and its `Content-Length` of body, as text.
pub(crate) async fn read_answer(socket: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = socket.read(&mut chunk).await.expect("read");
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            assert!(read > 0, "closed mid-head: {text}");
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse().ok())
            .expect("content-length");
        if answer.len() >= end + 4 + length || read == 0 {
            return text;
        }
    }
}
