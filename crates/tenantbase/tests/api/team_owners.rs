//! Owners through a team are owners: their effective roles (direct and through teams)
//! govern who may remove or change them, and the last-owner rule counts them — for
//! removal, leaving, role changes, team membership and the team's own grant. On both
//! backends.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, add_member, verified};

/// Creates a team granting `roles` with `members` in it; answers its id.
async fn team_with(
    app: &TestApp,
    owner: &Caller,
    org: &str,
    roles: &[&str],
    members: &[&Caller],
) -> String {
    let team = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/teams"),
            json!({"name": "Founders", "roles": roles}),
        )
        .await;
    assert_eq!(team.status, 201, "{}", team.text());
    let team = team.json()["id"].as_str().expect("team id").to_owned();
    for member in members {
        let joined = owner
            .post(
                app,
                &format!("/v1/orgs/{org}/teams/{team}/members"),
                json!({"user_id": member.user_id}),
            )
            .await;
        assert_eq!(joined.status, 201, "{}", joined.text());
    }
    team
}

/// The caller's effective role names in `org`, sorted.
async fn roles_in(app: &TestApp, caller: &Caller, org: &str) -> Vec<String> {
    let me = caller.get(app, &format!("/v1/orgs/{org}/me")).await;
    assert_eq!(me.status, 200, "{}", me.text());
    let mut roles: Vec<String> =
        serde_json::from_value(me.json()["roles"].clone()).expect("role names");
    roles.sort();
    roles
}

#[tokio::test]
async fn admins_cannot_remove_or_change_an_owner_through_a_team() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Teams").await;
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        let founder = add_member(&app, &owner, &org, "founder@example.com", &["member"]).await;
        let team = team_with(&app, &owner, &org, &["owner"], &[&founder]).await;
        let founder_path = format!("/v1/orgs/{org}/members/{}", founder.user_id);

        admin
            .call(&app, Method::DELETE, &founder_path, None)
            .await
            .problem(403, "owners_only");
        admin
            .call(
                &app,
                Method::PATCH,
                &founder_path,
                Some(json!({"roles": ["viewer"]})),
            )
            .await
            .problem(403, "owners_only");
        admin
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/teams/{team}/members/{}", founder.user_id),
                None,
            )
            .await
            .problem(403, "owners_only");
        assert_eq!(roles_in(&app, &founder, &org).await, ["member", "owner"]);

        // An admin still manages members who are not owners.
        let plain = format!("/v1/orgs/{org}/members/{}", admin.user_id);
        let changed = admin
            .call(
                &app,
                Method::PATCH,
                &plain,
                Some(json!({"roles": ["admin", "viewer"]})),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text());
        // Someone who manages owners may remove one while another owner remains.
        let removed = owner.call(&app, Method::DELETE, &founder_path, None).await;
        assert_eq!(removed.status, 204, "{}", removed.text());
        founder
            .get(&app, &format!("/v1/orgs/{org}"))
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test]
async fn an_org_whose_only_owner_holds_it_through_a_team_keeps_them() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Owned by a team").await;
        let team = team_with(&app, &owner, &org, &["owner"], &[&owner]).await;
        let me = format!("/v1/orgs/{org}/members/{}", owner.user_id);
        let in_team = format!("/v1/orgs/{org}/teams/{team}/members/{}", owner.user_id);
        let team_path = format!("/v1/orgs/{org}/teams/{team}");

        // Stepping down directly is fine: the team still makes them owner.
        let demoted = owner
            .call(&app, Method::PATCH, &me, Some(json!({"roles": ["member"]})))
            .await;
        assert_eq!(demoted.status, 200, "{}", demoted.text());
        assert_eq!(demoted.json()["roles"], json!(["member"]));

        // Now the team is the org's only path to an owner: none of these may cut it.
        let leave = format!("/v1/orgs/{org}/members/leave");
        owner
            .call(&app, Method::POST, &leave, None)
            .await
            .problem(409, "last_owner");
        owner
            .call(&app, Method::DELETE, &me, None)
            .await
            .problem(409, "last_owner");
        owner
            .call(&app, Method::DELETE, &in_team, None)
            .await
            .problem(409, "last_owner");
        owner
            .call(
                &app,
                Method::PATCH,
                &team_path,
                Some(json!({"roles": ["member"]})),
            )
            .await
            .problem(409, "last_owner");
        owner
            .call(&app, Method::DELETE, &team_path, None)
            .await
            .problem(409, "last_owner");
        // Each refusal was rolled back whole.
        assert_eq!(roles_in(&app, &owner, &org).await, ["member", "owner"]);
        let kept = owner.get(&app, &team_path).await.json();
        assert_eq!(kept["member_ids"], json!([owner.user_id]));
        assert_eq!(kept["role_ids"].as_array().map(Vec::len), Some(1));

        // With a second, direct owner the team grant may go.
        add_member(&app, &owner, &org, "heir@example.com", &["owner"]).await;
        let dropped = owner
            .call(
                &app,
                Method::PATCH,
                &team_path,
                Some(json!({"roles": ["member"]})),
            )
            .await;
        assert_eq!(dropped.status, 200, "{}", dropped.text());
        let left = owner.call(&app, Method::POST, &leave, None).await;
        assert_eq!(left.status, 204, "{}", left.text());
    }
}

#[test]
fn the_owner_refusals_are_documented() {
    let document = serde_json::to_value(tenantbase_http::openapi()).expect("document");
    let operations = [
        ("delete", "/v1/orgs/{org_id}/members/{user_id}"),
        ("patch", "/v1/orgs/{org_id}/members/{user_id}"),
        ("post", "/v1/orgs/{org_id}/members/leave"),
        ("patch", "/v1/orgs/{org_id}/teams/{team_id}"),
        ("delete", "/v1/orgs/{org_id}/teams/{team_id}"),
        (
            "delete",
            "/v1/orgs/{org_id}/teams/{team_id}/members/{user_id}",
        ),
    ];
    for (method, path) in operations {
        let responses = &document["paths"][path][method]["responses"];
        assert!(
            responses["409"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("last_owner")),
            "{method} {path}: {responses}"
        );
        if method != "post" {
            assert!(
                responses["403"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("owners_only") || d.contains("Owners only")),
                "{method} {path}: {responses}"
            );
        }
    }
}
