//! Members, invitations and teams through the API on both backends: who may grant what,
//! and the rules that keep an org owned (custom roles: `roles`).

use axum::http::Method;
use serde_json::json;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, add_member, mailed_invitation_token, verified};

#[tokio::test]
async fn invitations_add_members_with_roles_and_are_single_use() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Invites").await;
        let viewer = add_member(&app, &owner, &org, "viewer@example.com", &["viewer"]).await;
        let me = viewer.get(&app, &format!("/v1/orgs/{org}/me")).await.json();
        assert_eq!(me["roles"], json!(["viewer"]));
        assert_eq!(
            me["permissions"],
            json!(["org:read", "members:read", "projects:read", "files:read"])
        );

        // Used tokens stop working; others' emails do not match; any_email lets anyone in.
        let token = mailed_invitation_token(&app, "viewer@example.com").await;
        viewer
            .post(&app, "/v1/invitations/accept", json!({"token": token}))
            .await
            .problem(422, "validation_failed");
        owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/invitations"),
                json!({"email": "carol@example.com"}),
            )
            .await;
        let stranger = Caller::registered(&app, "mallory@example.com").await;
        let token = mailed_invitation_token(&app, "carol@example.com").await;
        stranger
            .post(&app, "/v1/invitations/accept", json!({"token": token}))
            .await
            .problem(403, "invitation_email_mismatch");
        let pending = owner
            .get(&app, &format!("/v1/orgs/{org}/invitations"))
            .await
            .json();
        assert_eq!(pending["items"].as_array().unwrap().len(), 1);
        let invitation = pending["items"][0]["id"].as_str().unwrap().to_owned();
        let revoked = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/invitations/{invitation}"),
                None,
            )
            .await;
        assert_eq!(revoked.status, 204);
        assert_eq!(
            owner
                .get(&app, &format!("/v1/orgs/{org}/invitations"))
                .await
                .json()["items"],
            json!([])
        );

        owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/invitations"),
                json!({"email": "any@example.com", "any_email": true}),
            )
            .await;
        let token = mailed_invitation_token(&app, "any@example.com").await;
        let joined = stranger
            .post(&app, "/v1/invitations/accept", json!({"token": token}))
            .await;
        assert_eq!(joined.status, 200, "{}", joined.text());
        let me = stranger
            .get(&app, &format!("/v1/orgs/{org}/me"))
            .await
            .json();
        assert_eq!(me["roles"], json!(["member"]));

        let members = owner
            .get(&app, &format!("/v1/orgs/{org}/members?limit=2"))
            .await
            .json();
        assert_eq!(members["items"].as_array().unwrap().len(), 2);
        let cursor = members["next_cursor"].as_str().expect("a second page");
        let rest = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/members?limit=2&cursor={cursor}"),
            )
            .await
            .json();
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest["next_cursor"], json!(null));
    }
}

#[tokio::test]
async fn invitations_need_the_verified_address_and_an_inviter_still_entitled() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Strict").await;
        let invitations = format!("/v1/orgs/{org}/invitations");

        // A matching but unverified address is not proof of owning it.
        let unverified = Caller::registered(&app, "late@example.com").await;
        owner
            .post(&app, &invitations, json!({"email": "late@example.com"}))
            .await;
        let token = mailed_invitation_token(&app, "late@example.com").await;
        unverified
            .post(&app, "/v1/invitations/accept", json!({"token": token}))
            .await
            .problem(403, "invitation_email_mismatch");

        // An admin invites an admin, then loses the role before the invitation is used.
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        let invited = admin
            .post(
                &app,
                &invitations,
                json!({"email": "friend@example.com", "roles": ["admin"]}),
            )
            .await;
        assert_eq!(invited.status, 201, "{}", invited.text());
        let demote = format!("/v1/orgs/{org}/members/{}", admin.user_id);
        assert_eq!(
            owner
                .call(
                    &app,
                    Method::PATCH,
                    &demote,
                    Some(json!({"roles": ["viewer"]}))
                )
                .await
                .status,
            200
        );
        let friend = verified(&app, "friend@example.com").await;
        let token = mailed_invitation_token(&app, "friend@example.com").await;
        friend
            .post(&app, "/v1/invitations/accept", json!({"token": token}))
            .await
            .problem(403, "inviter_lacks_permission");

        // An org-bound token neither joins nor creates other orgs.
        let bound = owner
            .post(&app, "/v1/auth/token", json!({"org_id": org}))
            .await
            .json();
        let bound = owner.with_token(bound["access_token"].as_str().unwrap());
        bound
            .post(&app, "/v1/orgs", json!({"name": "Escape"}))
            .await
            .problem(403, "org_bound_token");
    }
}

#[tokio::test]
async fn the_last_owner_cannot_leave_or_be_demoted_and_admins_cannot_touch_owners() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Owners").await;
        owner
            .call(
                &app,
                Method::POST,
                &format!("/v1/orgs/{org}/members/leave"),
                None,
            )
            .await
            .problem(409, "last_owner");
        let me = format!("/v1/orgs/{org}/members/{}", owner.user_id);
        owner
            .call(&app, Method::PATCH, &me, Some(json!({"roles": ["admin"]})))
            .await
            .problem(409, "last_owner");

        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        admin
            .call(&app, Method::PATCH, &me, Some(json!({"roles": ["member"]})))
            .await
            .problem(403, "owners_only");
        admin
            .call(&app, Method::DELETE, &me, None)
            .await
            .problem(403, "owners_only");
        let promote = format!("/v1/orgs/{org}/members/{}", admin.user_id);
        admin
            .call(
                &app,
                Method::PATCH,
                &promote,
                Some(json!({"roles": ["owner"]})),
            )
            .await
            .problem(403, "owners_only");

        // With a second owner, the first may step down.
        let promoted = owner
            .call(
                &app,
                Method::PATCH,
                &promote,
                Some(json!({"roles": ["owner"]})),
            )
            .await;
        assert_eq!(promoted.status, 200, "{}", promoted.text());
        assert_eq!(promoted.json()["roles"], json!(["owner"]));
        let left = owner
            .call(
                &app,
                Method::POST,
                &format!("/v1/orgs/{org}/members/leave"),
                None,
            )
            .await;
        assert_eq!(left.status, 204);
        owner
            .get(&app, &format!("/v1/orgs/{org}"))
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_leaving_at_once_leave_one_owner() {
    for backend in BOTH {
        let app = std::sync::Arc::new(TestApp::new(backend).await);
        let first = verified(&app, "first@example.com").await;
        for round in 0..5 {
            let org = first.create_org(&app, &format!("Race {round}")).await;
            let email = format!("second{round}@example.com");
            let second = add_member(&app, &first, &org, &email, &["owner"]).await;
            let leave = format!("/v1/orgs/{org}/members/leave");
            let tasks = [first.clone(), second].map(|caller| {
                let (app, leave) = (app.clone(), leave.clone());
                tokio::spawn(async move {
                    caller
                        .call(&app, Method::POST, &leave, None)
                        .await
                        .status
                        .as_u16()
                })
            });
            let mut statuses = Vec::new();
            for task in tasks {
                statuses.push(task.await.expect("task"));
            }
            statuses.sort();
            assert_eq!(
                statuses,
                [204, 409],
                "exactly one may leave (round {round})"
            );
        }
    }
}

#[tokio::test]
async fn team_members_inherit_the_team_roles() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Teams").await;
        let guest = add_member(&app, &owner, &org, "guest@example.com", &["guest"]).await;
        guest
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects"),
                json!({"name": "x"}),
            )
            .await
            .problem(403, "permission_denied");

        let team = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/teams"),
                json!({"name": "Builders", "roles": ["member"]}),
            )
            .await;
        assert_eq!(team.status, 201, "{}", team.text());
        let team = team.json()["id"].as_str().unwrap().to_owned();
        let joined = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/teams/{team}/members"),
                json!({"user_id": guest.user_id}),
            )
            .await;
        assert_eq!(joined.status, 201, "{}", joined.text());
        assert_eq!(joined.json()["member_ids"], json!([guest.user_id]));
        let fetched = owner
            .get(&app, &format!("/v1/orgs/{org}/teams/{team}"))
            .await
            .json();
        assert_eq!(fetched["name"], "Builders");
        let me = guest.get(&app, &format!("/v1/orgs/{org}/me")).await.json();
        assert!(
            me["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("projects:write"))
        );
        guest.create_project(&app, &org, "by team grant").await;
        let (roles, permissions) = membership_grant(&app, &guest).await;
        assert_eq!(roles, ["guest", "member"], "{backend:?}");
        assert!(permissions.contains(&"projects:write".to_owned()));

        let left = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/teams/{team}/members/{}", guest.user_id),
                None,
            )
            .await;
        assert_eq!(left.status, 204);
        guest
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects"),
                json!({"name": "y"}),
            )
            .await
            .problem(403, "permission_denied");
        let (roles, permissions) = membership_grant(&app, &guest).await;
        assert_eq!(
            roles,
            ["guest"],
            "{backend:?}: the team's role went with the team"
        );
        assert!(!permissions.contains(&"projects:write".to_owned()));
    }
}

/// The roles (sorted) and permissions `GET /v1/auth/me` shows for `caller`'s one org.
async fn membership_grant(app: &TestApp, caller: &Caller) -> (Vec<String>, Vec<String>) {
    let me = caller.get(app, "/v1/auth/me").await.json();
    let strings = |value: &serde_json::Value| -> Vec<String> {
        let items = value.as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let membership = &me["memberships"][0];
    let mut roles = strings(&membership["roles"]);
    roles.sort();
    (roles, strings(&membership["permissions"]))
}

/// A team's events name the roles it grants: the audit log shows who gave what to whom.
#[tokio::test]
async fn team_events_name_the_roles_granted() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Teams").await;
        let created = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/teams"),
                json!({"name": "Ops", "roles": ["viewer", "member"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let team = created.json()["id"].as_str().expect("id").to_owned();
        let patched = owner
            .call(
                &app,
                Method::PATCH,
                &format!("/v1/orgs/{org}/teams/{team}"),
                Some(json!({"roles": ["admin"]})),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text());
        let events = owner
            .get(&app, &format!("/v1/orgs/{org}/audit?type=team.created"))
            .await
            .json();
        let mut roles = events["items"][0]["payload"]["roles"].clone();
        roles
            .as_array_mut()
            .expect("roles")
            .sort_by_key(|r| r.to_string());
        assert_eq!(roles, json!(["member", "viewer"]), "{backend:?} {events}");
        assert_eq!(events["items"][0]["payload"]["name"], "Ops");
        let events = owner
            .get(&app, &format!("/v1/orgs/{org}/audit?type=team.updated"))
            .await
            .json();
        assert_eq!(
            events["items"][0]["payload"],
            json!({"roles": ["admin"]}),
            "{backend:?}"
        );
    }
}
