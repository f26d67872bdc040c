//! User-chosen names — orgs, roles, teams, API keys, projects — refuse the characters
//! that change how a name reads without being seen (bidirectional overrides, zero-width
//! spaces) and a combining mark with nothing to sit on, keep what real names are written
//! with (emoji sequences, combining marks, right-to-left text and the joiners of
//! Persian), and are kept composed (NFC), on both backends. Two teams, like two roles,
//! may not have names that read alike (case, width, composition).

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
        for (name, kept) in [
            (
                "👨\u{200D}👩\u{200D}👧 e\u{301} שלום",
                "👨\u{200D}👩\u{200D}👧 \u{E9} שלום",
            ),
            ("می\u{200C}خواهم", "می\u{200C}خواهم"),
        ] {
            let created = owner.post(&app, "/v1/orgs", json!({"name": name})).await;
            assert_eq!(created.status, 201, "{backend:?} {}", created.text());
            assert_eq!(created.json()["name"], kept, "{backend:?}");
        }
    }
}

#[tokio::test]
async fn a_name_is_one_name_however_it_is_composed() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Compose").await;
        let teams = format!("/v1/orgs/{org}/teams");
        let composed = owner.post(&app, &teams, json!({"name": "Caf\u{E9}"})).await;
        assert_eq!(composed.status, 201, "{backend:?} {}", composed.text());
        // As role names: whatever the case or width, one name.
        for alike in ["Cafe\u{301}", "CAF\u{C9}", "\u{FF43}\u{FF41}\u{FF46}\u{E9}"] {
            owner
                .post(&app, &teams, json!({"name": alike}))
                .await
                .problem(409, "team_name_taken");
        }
        let other = owner.post(&app, &teams, json!({"name": "Bar"})).await;
        assert_eq!(other.status, 201, "{backend:?} {}", other.text());
        let other = format!("{teams}/{}", other.json()["id"].as_str().expect("id"));
        let renamed = json!({"name": "caf\u{E9}"});
        owner
            .call(&app, Method::PATCH, &other, Some(renamed))
            .await
            .problem(409, "team_name_taken");
        let renamed = owner
            .call(&app, Method::PATCH, &other, Some(json!({"name": "BAR"})))
            .await;
        assert_eq!(renamed.status, 200, "{backend:?}: its own name, recased");
        let project = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects"),
                json!({"name": "Re\u{301}sume\u{301}"}),
            )
            .await;
        assert_eq!(project.status, 201, "{backend:?} {}", project.text());
        assert_eq!(project.json()["name"], "R\u{E9}sum\u{E9}", "{backend:?}");
        // Searched for as typed, composed or not, it is found.
        for typed in ["r%C3%A9sum%C3%A9", "re%CC%81sume%CC%81"] {
            let found = owner
                .get(&app, &format!("/v1/orgs/{org}/projects?q={typed}"))
                .await
                .json();
            assert_eq!(
                found["items"].as_array().map(Vec::len),
                Some(1),
                "{backend:?} {typed}"
            );
        }
        let response = owner
            .call(
                &app,
                Method::POST,
                &format!("/v1/orgs/{org}/projects"),
                Some(json!({"name": "\u{301}dangling"})),
            )
            .await;
        assert_eq!(response.invalid_fields(), ["name"], "{backend:?}");
    }
}
