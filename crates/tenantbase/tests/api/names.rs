//! User-chosen names — orgs, roles, teams, API keys, projects — refuse the characters
//! that change how a name reads without being seen (bidirectional overrides, zero-width
//! spaces), and keep what real names are written with: emoji sequences, combining marks,
//! right-to-left text and the joiners of Persian, on both backends.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

#[tokio::test]
async fn names_refuse_invisible_formatting_and_keep_real_scripts() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Names").await;
        let refused = [
            (
                Method::POST,
                "/v1/orgs".to_owned(),
                json!({"name": "abc\u{202E}fdp"}),
            ),
            (
                Method::PATCH,
                format!("/v1/orgs/{org}"),
                json!({"name": "\u{200B}"}),
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/roles"),
                json!({"name": "r\u{2066}x", "permissions": []}),
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/teams"),
                json!({"name": "t\u{FEFF}"}),
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/api-keys"),
                json!({"name": "k\u{200F}", "permissions": ["org:read"]}),
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/projects"),
                json!({"name": "p\u{2060}"}),
            ),
        ];
        for (method, path, body) in refused {
            let response = owner.call(&app, method, &path, Some(body)).await;
            assert_eq!(response.invalid_fields(), ["name"], "{backend:?} {path}");
        }
        for name in ["👨\u{200D}👩\u{200D}👧 e\u{301} שלום", "می\u{200C}خواهم"] {
            let created = owner.post(&app, "/v1/orgs", json!({"name": name})).await;
            assert_eq!(created.status, 201, "{backend:?} {}", created.text());
            assert_eq!(created.json()["name"], name, "{backend:?}");
        }
    }
}
