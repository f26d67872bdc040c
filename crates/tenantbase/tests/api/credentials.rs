//! API keys and org-bound access tokens through the API on both backends: each acts only
//! in its org and within its permissions.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, add_member, verified};

#[tokio::test]
async fn api_keys_act_in_their_org_within_their_permissions_until_revoked() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Keys").await;
        let other = owner.create_org(&app, "Other").await;
        let keys = format!("/v1/orgs/{org}/api-keys");
        let created = owner
            .post(
                &app,
                &keys,
                json!({"name": "ci", "permissions": ["projects:read", "projects:write"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let created = created.json();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(
            secret.starts_with("tb_") && secret.len() >= 3 + 32 + 1 + 43,
            "{secret}"
        );
        let key = owner.with_token(&secret);
        // A good key on a malformed org id finds no org there.
        key.get(&app, "/v1/orgs/not-an-org/projects")
            .await
            .problem(404, "not_found");

        let project = key.create_project(&app, &org, "from CI").await;
        let fetched = key
            .get(&app, &format!("/v1/orgs/{org}/projects/{project}"))
            .await
            .json();
        assert_eq!(fetched["created_by"], owner.user_id.as_str());
        key.get(&app, &format!("/v1/orgs/{org}/members"))
            .await
            .problem(403, "permission_denied");
        key.get(&app, &format!("/v1/orgs/{other}/projects"))
            .await
            .problem(404, "not_found");

        let listed = owner.get(&app, &keys).await.json();
        assert_eq!(listed["items"][0]["prefix"], created["prefix"]);
        let prefix = created["prefix"].as_str().expect("prefix");
        assert!(secret.starts_with(prefix), "{prefix} begins the key");
        // At most 8 of the 43 random characters show: over 200 bits stay unseen.
        assert!(
            secret.len() - prefix.len() >= 35,
            "{prefix} tells little of it"
        );
        assert!(listed["items"][0].get("secret").is_none());
        assert!(!listed.to_string().contains(&secret));

        let viewer = add_member(&app, &owner, &org, "viewer@example.com", &["admin"]).await;
        viewer
            .post(
                &app,
                &keys,
                json!({"name": "too much", "permissions": ["org:delete"]}),
            )
            .await
            .problem(403, "exceeds_own_permissions");
        owner
            .post(&app, &keys, json!({"name": "x", "permissions": ["nope"]}))
            .await
            .problem(422, "validation_failed");

        let id = created["id"].as_str().unwrap();
        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("{keys}/{id}"), None)
                .await
                .status,
            204
        );
        key.get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .assert_invalid_token();
        owner
            .with_token("tb_nonsense")
            .get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .assert_invalid_token();
        // A bad key is 401 before a malformed org id could be 404.
        owner
            .with_token("tb_nonsense")
            .get(&app, "/v1/orgs/not-an-org/projects")
            .await
            .assert_invalid_token();
        key.get(&app, "/v1/orgs/not-an-org/projects")
            .await
            .assert_invalid_token();
    }
}

/// An account whose address is not verified yet may be a squatter's: it creates no API
/// key, which would outlive the owner's claim of the account by a password reset. A
/// guest has no address to claim and may.
#[tokio::test]
async fn only_a_verified_address_or_a_guest_creates_api_keys() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let body = json!({"name": "ci", "permissions": ["projects:read"]});
        let unverified = Caller::registered(&app, "new@example.com").await;
        let org = unverified.create_org(&app, "Unproven").await;
        unverified
            .post(&app, &format!("/v1/orgs/{org}/api-keys"), body.clone())
            .await
            .problem(403, "email_unverified");
        let guest = Caller::guest(&app).await;
        let org = guest.create_org(&app, "Guest's").await;
        let created = guest
            .post(&app, &format!("/v1/orgs/{org}/api-keys"), body)
            .await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
    }
}

/// A key lives no longer than its creator's membership: once they are removed it is
/// refused as an invalid credential (401) on every route, the owner-only ones included,
/// and it is revoked, so it stays dead if they rejoin.
#[tokio::test]
async fn an_api_key_dies_with_its_creators_membership() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Keys").await;
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        let created = admin
            .post(
                &app,
                &format!("/v1/orgs/{org}/api-keys"),
                json!({"name": "ci", "permissions": ["projects:read"]}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let key = admin.with_token(created.json()["secret"].as_str().expect("secret"));
        let projects = format!("/v1/orgs/{org}/projects");
        assert_eq!(key.get(&app, &projects).await.status, 200);

        let removed = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/members/{}", admin.user_id),
                None,
            )
            .await;
        assert_eq!(removed.status, 204, "{}", removed.text());
        key.get(&app, &projects).await.assert_invalid_token();
        key.call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
            .await
            .assert_invalid_token();
        let listed = owner.get(&app, &format!("/v1/orgs/{org}/api-keys")).await;
        let keys = listed.json()["items"].as_array().expect("items").clone();
        assert_eq!(keys.len(), 1, "{}", listed.text());
        assert!(keys[0]["revoked_at"].is_string(), "{}", listed.text());
        let events = owner.get(&app, &format!("/v1/orgs/{org}/audit")).await;
        let removal = events.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["type"] == "member.removed")
            .cloned()
            .expect("member.removed");
        assert_eq!(removal["payload"]["keys_revoked"], json!([keys[0]["id"]]));
    }
}

/// Keys created while their creator is being removed end with the rest: none outlives
/// the membership to work again on a rejoin.
#[tokio::test]
async fn keys_created_during_their_creators_removal_end_with_it() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Race").await;
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        let keys = format!("/v1/orgs/{org}/api-keys");
        let creates = (0..8).map(|n| {
            let body = json!({"name": format!("k{n}"), "permissions": ["org:read"]});
            admin.post(&app, &keys, body)
        });
        let member = format!("/v1/orgs/{org}/members/{}", admin.user_id);
        let (created, removed) = tokio::join!(
            futures::future::join_all(creates),
            owner.call(&app, Method::DELETE, &member, None)
        );
        assert_eq!(removed.status, 204, "{}", removed.text());
        // Created, or refused as the removal lands (its grant read mid-way: 403).
        for answer in &created {
            assert!(
                matches!(answer.status.as_u16(), 201 | 401 | 403 | 404),
                "{backend:?}: {}",
                answer.text()
            );
        }
        let listed = owner.get(&app, &keys).await.json();
        for key in listed["items"].as_array().expect("items") {
            assert!(key["revoked_at"].is_string(), "{backend:?}: {key}");
        }
    }
}

#[tokio::test]
async fn an_api_key_lists_its_own_org_and_passes_gateway_verification() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Gateway").await;
        owner.create_org(&app, "Not the key's").await;
        let created = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/api-keys"),
                json!({"name": "gw", "permissions": ["projects:read"]}),
            )
            .await
            .json();
        let key = owner.with_token(created["secret"].as_str().unwrap());
        let orgs = key.get(&app, "/v1/orgs").await.json();
        assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
        assert_eq!(orgs["items"][0]["id"], org.as_str());

        // A key is not a user: refused, not called invalid.
        key.get(&app, "/v1/auth/me")
            .await
            .problem(403, "user_required");
        key.post(&app, "/v1/auth/token", json!({"org_id": org}))
            .await
            .problem(403, "user_required");

        let verified = key.get(&app, "/v1/auth/verify").await;
        assert_eq!(verified.status, 204, "{}", verified.text());
        assert_eq!(verified.header("x-auth-org-id"), Some(org.as_str()));
        assert_eq!(verified.header("x-auth-api-key-id"), created["id"].as_str());
        assert!(verified.header("x-auth-user-id").is_none());

        let id = created["id"].as_str().unwrap();
        owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/api-keys/{id}"),
                None,
            )
            .await;
        key.get(&app, "/v1/auth/verify")
            .await
            .assert_invalid_token();
        key.get(&app, "/v1/orgs").await.assert_invalid_token();
        // Revoked, it is invalid there too.
        key.get(&app, "/v1/auth/me").await.assert_invalid_token();
    }
}

#[tokio::test]
async fn org_bound_tokens_act_only_in_their_org() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let user = Caller::guest(&app).await;
        let a = user.create_org(&app, "A").await;
        let b = user.create_org(&app, "B").await;
        let issued = user
            .post(&app, "/v1/auth/token", json!({"org_id": a}))
            .await;
        assert_eq!(issued.status, 200, "{}", issued.text());
        let bound = user.with_token(issued.json()["access_token"].as_str().unwrap());
        assert_eq!(bound.get(&app, &format!("/v1/orgs/{a}")).await.status, 200);
        bound
            .get(&app, &format!("/v1/orgs/{b}"))
            .await
            .problem(404, "not_found");
        bound
            .get(&app, "/v1/orgs")
            .await
            .problem(403, "org_bound_token");

        let stranger = Caller::guest(&app).await;
        stranger
            .post(&app, "/v1/auth/token", json!({"org_id": a}))
            .await
            .problem(404, "not_found");
    }
}
