//! `/health`, `/ready`, `/`, `/metrics`, `/openapi.json` and `/docs` on both backends.

use crate::helpers::{BOTH, Backend, TestApp};

#[tokio::test]
async fn health_is_ok_without_dependencies() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        app.store.close().await;
        let response = app.get("/health").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn ready_checks_database_and_object_store() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let response = app.get("/ready").await;
        assert_eq!(response.status, 200, "{backend:?}: {}", response.text());
        let body = response.json();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["database"], "ok");
        assert_eq!(body["checks"]["object_store"], "ok");
    }
}

#[tokio::test]
async fn ready_names_a_missing_object_store() {
    let app = TestApp::new(Backend::Sqlite).await;
    std::fs::remove_dir_all(&app.files_dir).expect("remove object store folder");
    let problem = app
        .get("/ready")
        .await
        .problem(503, "dependency_unavailable");
    assert_eq!(problem["checks"]["object_store"], "unavailable");
    assert_eq!(problem["checks"]["database"], "ok");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("object_store")
    );
}

#[tokio::test]
async fn info_links_to_the_docs() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = app.get("/").await.json();
    assert_eq!(body["name"], "tenantbase");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["links"]["docs"], "/docs");
    assert_eq!(body["links"]["openapi"], "/openapi.json");
}

#[tokio::test]
async fn metrics_report_requests_pool_and_process() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let mut unit = app.store.begin().await.expect("begin");
        unit.enqueue_job(tenantbase_store::platform::jobs::NewJob::new(
            "metrics.test",
            serde_json::json!({}),
        ))
        .await
        .expect("enqueue");
        unit.commit().await.expect("commit");
        app.get("/health").await;
        app.get("/no/such/route").await;
        let response = app.get("/metrics").await;
        assert_eq!(response.status, 200);
        assert!(
            response
                .header("content-type")
                .expect("type")
                .starts_with("text/plain")
        );
        let text = response.text();
        for expected in [
            r#"http_requests_total{method="GET",route="/health",status="200"}"#,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="0.005"}"#,
            "http_requests_in_flight",
            r#"db_pool_connections{state="open""#,
            r#"db_pool_connections{state="idle""#,
            r#"jobs_queue_depth{kind="metrics.test",state="queued"} 1"#,
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
        ] {
            assert!(text.contains(expected), "{backend:?}: missing {expected}");
        }
        let backend_label = match backend {
            Backend::Sqlite => r#"backend="sqlite""#,
            Backend::Postgres => r#"backend="postgres""#,
        };
        assert!(text.contains(backend_label));
    }
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let app = TestApp::new(Backend::Sqlite).await;
    let document = app.get("/openapi.json").await.json();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        assert!(document["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());
    // The served document is the one the CLI prints.
    let generated = serde_json::to_value(tenantbase_http::openapi()).expect("serializes");
    assert_eq!(document, generated);
}

#[tokio::test]
async fn docs_page_loads_the_openapi_document() {
    let app = TestApp::new(Backend::Sqlite).await;
    assert_eq!(app.get("/docs").await.status, 303);
    let page = app.get("/docs/").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("swagger-ui"));
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status, 200);
    assert!(initializer.text().contains("/openapi.json"));
}
