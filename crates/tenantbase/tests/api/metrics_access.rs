//! Who may scrape `/metrics` and where: a bearer token (in process), a management
//! listener of its own (on the binary), and a queue-depth reading that scrapes reuse.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use tenantbase_http::{HttpSettings, MetricsAccess};
use tenantbase_store::platform::jobs::NewJob;
use utoipa_axum::router::OpenApiRouter;

use crate::helpers::{BOTH, Backend, TestApp, settings};
use crate::process::{Server, tenantbase};

const TOKEN: &str = "a-long-scrape-token";

async fn app_with(metrics: MetricsAccess) -> TestApp {
    let http = HttpSettings {
        metrics,
        ..settings()
    };
    TestApp::build(Backend::Sqlite, OpenApiRouter::new(), http).await
}

async fn scrape(app: &TestApp, authorization: Option<&str>) -> crate::helpers::TestResponse {
    let mut request = Request::get("/metrics");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

#[tokio::test]
async fn with_a_token_only_its_bearer_reads_the_metrics() {
    let app = app_with(MetricsAccess::new(Some(TOKEN), false)).await;
    scrape(&app, None).await.problem(401, "missing_token");
    for wrong in ["Bearer a-long-scrape-tokeN", "Bearer a", "Basic YTpi"] {
        scrape(&app, Some(wrong)).await.assert_invalid_token();
    }
    let allowed = scrape(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(allowed.status, 200);
    assert!(allowed.text().contains("http_requests_total"));
}

#[tokio::test]
async fn with_a_management_listener_the_api_listener_does_not_serve_metrics() {
    let app = app_with(MetricsAccess::new(None, true)).await;
    scrape(&app, None).await.problem(404, "route_not_found");
    assert_eq!(app.get("/health").await.status, 200);
}

#[tokio::test]
async fn scrapes_reuse_the_queue_depth_for_a_few_seconds() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let kind = format!("metrics.cache.{backend:?}");
        let enqueue = || async {
            let mut unit = app.store.begin().await.expect("begin");
            unit.enqueue_job(NewJob::new(&kind, serde_json::json!({})))
                .await
                .expect("enqueue");
            unit.commit().await.expect("commit");
        };
        let depth = |text: &str| {
            let series = format!(r#"jobs_queue_depth{{kind="{kind}",state="queued"}} "#);
            text.lines()
                .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
        };
        enqueue().await;
        let first = app.get("/metrics").await.text();
        assert_eq!(depth(&first).as_deref(), Some("1"), "{backend:?}");
        enqueue().await;
        let second = app.get("/metrics").await.text();
        assert_eq!(
            depth(&second).as_deref(),
            Some("1"),
            "{backend:?}: the second scrape queried the queue again"
        );
    }
}

#[tokio::test]
async fn the_binary_serves_metrics_on_the_management_listener_only() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    command
        .env("TENANTBASE_METRICS__LISTEN", "127.0.0.1:0")
        .env("TENANTBASE_METRICS__TOKEN", TOKEN)
        .env("TENANTBASE_JOBS__WORKERS", "0");
    let server = Server::start(&mut command);
    let management = server
        .seen
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "serving /metrics")
        .and_then(|line| line["addr"].as_str().map(str::to_owned))
        .expect("the management listener is announced before the API listener");
    assert_ne!(management, server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let get = |url: String, token: Option<&str>| {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let on_api = get(server.url("/metrics"), Some(TOKEN)).await.expect("api");
    assert_eq!(on_api.status(), 404, "the API listener no longer serves it");
    let scraped = get(format!("http://{management}/metrics"), Some(TOKEN))
        .await
        .expect("management");
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .expect("text")
            .contains("process_cpu_seconds_total")
    );
    let anonymous = get(format!("http://{management}/metrics"), None)
        .await
        .expect("management");
    assert_eq!(anonymous.status(), 401, "the token is asked there too");
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
    let other = get(format!("http://{management}/health"), None)
        .await
        .expect("management");
    assert_eq!(other.status(), 404, "only /metrics is served there");
}
