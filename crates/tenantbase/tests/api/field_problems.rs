//! The org administration bodies — roles, teams, invitations, API keys — and list queries
//! answer a 422 naming every invalid field at once, not the first one checked, on both
//! backends.

use axum::http::Method;
use serde_json::{Value, json};
use tenantbase_core::tenancy::TenancyPolicy;

use crate::helpers::{BOTH, Backend, TestApp};
use crate::tenants::verified;

#[tokio::test]
async fn every_invalid_field_of_an_admin_body_is_named_at_once() {
    for backend in BOTH {
        // One invitation an hour: the refused ones below must not spend it.
        let app = TestApp::with_tenancy(
            backend,
            TenancyPolicy {
                invitations_per_hour_per_inviter: 1,
                ..TenancyPolicy::default()
            },
        )
        .await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Fields").await;
        let created = |path: &str, body: Value| {
            let (owner, app, path) = (owner.clone(), &app, format!("/v1/orgs/{org}/{path}"));
            async move {
                let response = owner.post(app, &path, body).await;
                assert_eq!(response.status, 201, "{}", response.text());
                response.json()["id"].as_str().expect("id").to_owned()
            }
        };
        let role = created("roles", json!({"name": "r", "permissions": []})).await;
        let team = created("teams", json!({"name": "t"})).await;
        let long = "d".repeat(501);
        let bodies: [(Method, String, Value, &[&str]); 7] = [
            (
                Method::POST,
                "roles".to_owned(),
                json!({"name": "", "description": long, "permissions": ["nope"]}),
                &["description", "name", "permissions[0]"],
            ),
            (
                Method::PATCH,
                format!("roles/{role}"),
                json!({"name": "owner", "description": long, "permissions": ["x", "audit:read", "y"]}),
                &["description", "name", "permissions[0]", "permissions[2]"],
            ),
            (
                Method::POST,
                "teams".to_owned(),
                json!({"name": " ", "roles": ["member", "nope"]}),
                &["name", "roles[1]"],
            ),
            (
                Method::PATCH,
                format!("teams/{team}"),
                json!({"name": "", "roles": ["nope"]}),
                &["name", "roles[0]"],
            ),
            (
                Method::POST,
                "invitations".to_owned(),
                json!({"email": "no-at-sign", "roles": ["nope"]}),
                &["email", "roles[0]"],
            ),
            (
                Method::POST,
                "api-keys".to_owned(),
                json!({"name": "", "permissions": [], "expires_at": "2000-01-01T00:00:00Z"}),
                &["expires_at", "name", "permissions"],
            ),
            (
                Method::POST,
                "api-keys".to_owned(),
                json!({"name": "k", "permissions": ["nope"], "expires_at": "+20000-01-01T00:00:00Z"}),
                &["expires_at", "permissions[0]"],
            ),
        ];
        for (method, path, body, fields) in bodies {
            let path = format!("/v1/orgs/{org}/{path}");
            let response = owner.call(&app, method, &path, Some(body)).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
        // Nothing was changed, and the hour's one invitation is still there to send.
        let unchanged = owner
            .get(&app, &format!("/v1/orgs/{org}/roles/{role}"))
            .await;
        assert_eq!(unchanged.json()["name"], "r", "{backend:?}");
        let sent = json!({"email": "invitee@example.com"});
        created("invitations", sent).await;
    }
}

#[tokio::test]
async fn every_member_of_the_wrong_type_and_every_absent_field_is_named_at_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Types").await;
        let bodies: [(Method, String, Value, &[&str]); 3] = [
            (
                Method::PATCH,
                format!("/v1/orgs/{org}"),
                json!({"name": 5, "slug": 7, "require_mfa": "yes"}),
                &["name", "require_mfa", "slug"],
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/roles"),
                json!({"name": 1, "permissions": "x", "bogus": true}),
                &["bogus", "name", "permissions"],
            ),
            (
                Method::POST,
                format!("/v1/orgs/{org}/api-keys"),
                json!({"expires_at": 12345}),
                &["expires_at", "name", "permissions"],
            ),
        ];
        for (method, path, body, fields) in bodies {
            let response = owner.call(&app, method, &path, Some(body)).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
    }
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_named_with_the_rule_problems_of_the_others() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Mixed").await;
        let long = "d".repeat(5_001);
        let bodies: [(String, Value, &[&str]); 9] = [
            (
                "/v1/orgs".to_owned(),
                json!({"name": "", "slug": 5}),
                &["name", "slug"],
            ),
            (
                "/v1/orgs".to_owned(),
                json!({"slug": "Not A Slug"}),
                &["name", "slug"],
            ),
            (
                format!("/v1/orgs/{org}/projects"),
                json!({"name": " ", "description": 5, "metadata": []}),
                &["description", "metadata", "name"],
            ),
            (
                format!("/v1/orgs/{org}/projects"),
                serde_json::from_str(&format!(r#"{{"description": "{long}", "bogus": 1}}"#))
                    .expect("json"),
                &["bogus", "description", "name"],
            ),
            // A member of the wrong type is named once, for what was sent: not again for
            // the stand-in put in its place.
            (
                format!("/v1/orgs/{org}/projects"),
                json!({"name": 5}),
                &["name"],
            ),
            (
                format!("/v1/orgs/{org}/roles"),
                json!({"name": 5, "description": long, "permissions": ["nope"]}),
                &["description", "name", "permissions[0]"],
            ),
            (
                format!("/v1/orgs/{org}/teams"),
                json!({"name": "", "roles": "member"}),
                &["name", "roles"],
            ),
            (
                format!("/v1/orgs/{org}/invitations"),
                json!({"email": "no-at-sign", "any_email": "yes"}),
                &["any_email", "email"],
            ),
            (
                format!("/v1/orgs/{org}/api-keys"),
                json!({"name": "", "permissions": "all", "expires_at": "2000-01-01T00:00:00Z"}),
                &["expires_at", "name", "permissions"],
            ),
        ];
        for (path, body, fields) in bodies {
            let response = owner.post(&app, &path, body).await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
        // Nothing was made of the stand-ins.
        let orgs = owner.get(&app, "/v1/orgs").await.json();
        let projects = owner
            .get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .json();
        let teams = owner
            .get(&app, &format!("/v1/orgs/{org}/teams"))
            .await
            .json();
        let invitations = owner
            .get(&app, &format!("/v1/orgs/{org}/invitations"))
            .await
            .json();
        let keys = owner
            .get(&app, &format!("/v1/orgs/{org}/api-keys"))
            .await
            .json();
        let counts = [&orgs, &projects, &teams, &invitations, &keys]
            .map(|page| page["items"].as_array().map(Vec::len));
        assert_eq!(
            counts,
            [Some(1), Some(0), Some(0), Some(0), Some(0)],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_invitation_to_an_address_mail_cannot_reach_is_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Mailable").await;
        let path = format!("/v1/orgs/{org}/invitations");
        // Email accepts these shapes; the mailer does not (it used to be a 500).
        let long_local = format!("{}@example.com", "a".repeat(65));
        for address in ["a..b@example.com", ".ab@example.com", long_local.as_str()] {
            let refused = owner
                .post(&app, &path, json!({"email": address}))
                .await
                .problem(422, "validation_failed");
            assert_eq!(
                refused["errors"][0]["field"], "email",
                "{address}: {refused}"
            );
        }
        let sent = owner
            .post(&app, &path, json!({"email": "carol@example.com"}))
            .await;
        assert_eq!(sent.status, 201, "{}", sent.text());
    }
}

#[tokio::test]
async fn a_cursor_that_is_no_cursor_is_named_with_the_other_bad_parameters() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Pages").await;
        for (path, query, fields) in [
            (
                format!("/v1/orgs/{org}/projects"),
                "limit=0&cursor=garbage!&order=up",
                &["cursor", "limit", "order"][..],
            ),
            (
                format!("/v1/orgs/{org}/members"),
                "limit=x&cursor=bm90IGpzb24",
                &["cursor", "limit"][..],
            ),
        ] {
            let response = owner
                .call(&app, Method::GET, &format!("{path}?{query}"), None)
                .await;
            assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
        }
    }
}

#[tokio::test]
async fn a_null_where_no_null_goes_is_named_with_the_other_problems_on_sqlite() {
    a_null_where_no_null_goes_is_named_with_the_other_problems(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_null_where_no_null_goes_is_named_with_the_other_problems_on_postgres() {
    a_null_where_no_null_goes_is_named_with_the_other_problems(Backend::Postgres).await;
}

/// A PATCH body's `null` for a field that cannot be null is no absent field: it is named
/// with the body's other problems, whether its shape or the change's rules find them, and
/// nothing changes.
async fn a_null_where_no_null_goes_is_named_with_the_other_problems(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = verified(&app, "owner@example.com").await;
    let org_path = format!(
        "/v1/orgs/{org}",
        org = owner.create_org(&app, "Nulls").await
    );
    let created = |path: String, body: Value| {
        let (owner, app) = (owner.clone(), &app);
        async move {
            let response = owner.post(app, &path, body).await;
            assert_eq!(response.status, 201, "{}", response.text());
            format!("{path}/{}", response.json()["id"].as_str().expect("id"))
        }
    };
    let role = created(
        format!("{org_path}/roles"),
        json!({"name": "r", "permissions": []}),
    )
    .await;
    let team = created(format!("{org_path}/teams"), json!({"name": "t"})).await;
    let project = created(
        format!("{org_path}/projects"),
        json!({"name": "p", "description": "d", "metadata": {"k": 1}}),
    )
    .await;
    let me = "/v1/auth/me".to_owned();
    let paths = [&org_path, &role, &team, &project, &me];
    let read_all = || async {
        let mut all = Vec::new();
        for path in paths {
            all.push(owner.get(&app, path).await.json());
        }
        all
    };
    let before = read_all().await;
    let bodies: [(&String, Value, &[&str]); 9] = [
        (
            &org_path,
            json!({"name": null, "slug": "Not a slug", "require_mfa": null}),
            &["name", "require_mfa", "slug"],
        ),
        (
            &org_path,
            json!({"slug": null, "require_mfa": "yes"}),
            &["require_mfa", "slug"],
        ),
        (
            &role,
            json!({"name": null, "description": null, "permissions": ["nope"]}),
            &["description", "name", "permissions[0]"],
        ),
        (&role, json!({"permissions": null}), &["permissions"]),
        (
            &team,
            json!({"name": null, "roles": ["nope"]}),
            &["name", "roles[0]"],
        ),
        (&team, json!({"roles": null}), &["roles"]),
        (
            &project,
            json!({"name": "", "description": null, "metadata": null}),
            &["metadata", "name"],
        ),
        (
            &me,
            json!({"display_name": null, "profile_visibility": "public"}),
            &["display_name", "profile_visibility"],
        ),
        (
            &me,
            json!({"profile_visibility": null, "bio": null}),
            &["profile_visibility"],
        ),
    ];
    for (path, body, fields) in bodies {
        let response = owner.call(&app, Method::PATCH, path, Some(body)).await;
        assert_eq!(response.invalid_fields(), fields, "{backend:?} {path}");
    }
    assert_eq!(read_all().await, before, "{backend:?}: nothing changed");
}
