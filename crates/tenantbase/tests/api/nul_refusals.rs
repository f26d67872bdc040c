//! Inputs PostgreSQL cannot store or compare — text holding NUL, timestamps outside
//! RFC 3339's years — are 422 naming the field on both backends, never a 500.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::helpers::BOTH;
use crate::tenants::Caller;

#[tokio::test]
async fn body_text_holding_nul_is_422_naming_each_field() {
    for backend in BOTH {
        let app = crate::helpers::TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "N").await;
        let bodies: [(Method, String, Value, &[&str]); 3] = [
            (
                Method::POST,
                format!("/v1/orgs/{org}/projects"),
                json!({"name": "x", "description": "a\u{0}b", "metadata": {"k": ["\u{0}"]}}),
                &["description", "metadata.k[0]"],
            ),
            (
                Method::PATCH,
                "/v1/auth/me".to_owned(),
                json!({"bio": "\u{0}"}),
                &["bio"],
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/roles"),
                json!({"name": "r", "description": "\u{0}", "permissions": ["projects:read"]}),
                &["description"],
            ),
        ];
        for (method, path, body, fields) in bodies {
            let response = owner.call(&app, method, &path, Some(body)).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
        // Imports are not JSON bodies: their rows are checked as the projects they become.
        let rows = "{\"name\":\"a\",\"description\":\"\\u0000\"}\n\
                    {\"name\":\"b\",\"metadata\":{\"k\":\"\\u0000\"}}\n";
        let import = Request::post(format!("/v1/orgs/{org}/projects/import"))
            .header("authorization", format!("Bearer {}", owner.token))
            .header("content-type", "application/x-ndjson")
            .body(Body::from(rows))
            .expect("request");
        let response = app.send(import).await;
        let fields = ["rows[0].description", "rows[1].metadata"];
        assert_eq!(response.invalid_fields(), fields, "{backend:?}");
        let listed = owner.get(&app, &format!("/v1/orgs/{org}/projects")).await;
        assert_eq!(listed.json()["items"], json!([]), "{backend:?}");
        // A NUL is named with the body's other problems, not alone before them.
        let project = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects"),
                json!({"name": "p"}),
            )
            .await
            .json()["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let beside: [(Method, String, Value, &[&str]); 3] = [
            (
                Method::POST,
                format!("/v1/orgs/{org}/projects"),
                json!({"name": "", "description": "x\u{0}", "metadata": []}),
                &["description", "metadata", "name"],
            ),
            (
                Method::POST,
                "/v1/orgs".to_owned(),
                json!({"name": "a\u{0}", "slug": "A B"}),
                &["name", "slug"],
            ),
            (
                Method::PATCH,
                format!("/v1/orgs/{org}/projects/{project}"),
                json!({"name": "", "description": "\u{0}"}),
                &["description", "name"],
            ),
        ];
        for (method, path, body, fields) in beside {
            let response = owner.call(&app, method, &path, Some(body)).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
    }
}

#[tokio::test]
async fn query_filters_holding_nul_or_impossible_years_are_422() {
    for backend in BOTH {
        let app = crate::helpers::TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "N").await;
        for (query, fields) in [
            ("files?prefix=%00", &["prefix"][..]),
            ("audit?type=a%00&actor=%00", &["actor", "type"]),
            ("audit?since=-5000-01-01T00:00:00Z", &["since"]),
            ("audit?until=%2B20000-01-01T00:00:00Z", &["until"]),
        ] {
            let response = owner.get(&app, &format!("/v1/orgs/{org}/{query}")).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {query}");
        }
        let projects = "projects?created_after=-5000-01-01T00:00:00Z";
        let response = owner.get(&app, &format!("/v1/orgs/{org}/{projects}")).await;
        assert_eq!(response.invalid_fields(), ["created_after"], "{backend:?}");
        let fine = "audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z";
        let response = owner.get(&app, &format!("/v1/orgs/{org}/{fine}")).await;
        assert_eq!(response.status, 200, "{backend:?} {}", response.text());
    }
}
