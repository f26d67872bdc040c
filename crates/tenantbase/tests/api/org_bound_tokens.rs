//! A token bound to one org (`POST /v1/auth/token`) acts only there, proven over the whole
//! router: every operation of the OpenAPI document outside `/v1/orgs/{org_id}` that is
//! not public is called with a bound token and must answer 403 `org_bound_token`, except
//! the introspection routes (`/v1/auth/me`, `/v1/auth/verify`), which must succeed — so a
//! new account route cannot forget the rule. On both backends.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::json;

use crate::access_matrix::{body_for, call, fill, routes};
use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

/// A token of `caller`'s session bound to `org`.
async fn bound_token(app: &TestApp, caller: &Caller, org: &str) -> String {
    let issued = caller
        .post(app, "/v1/auth/token", json!({"org_id": org}))
        .await;
    assert_eq!(issued.status, 200, "{}", issued.text());
    issued.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

#[tokio::test]
async fn a_bound_token_is_refused_on_every_account_route() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::registered(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Bound").await;
        let bound = bound_token(&app, &owner, &org).await;
        let session = owner.get(&app, "/v1/auth/me").await.json()["session_id"]
            .as_str()
            .expect("session id")
            .to_owned();
        // Real ids, so that only the token can be the reason for a refusal.
        let ids = HashMap::from([
            ("org_id", org.clone()),
            ("id", session),
            ("user_id", owner.user_id.clone()),
            // The owner has no linked identity or passkey; the guard refuses before any
            // lookup.
            ("identity_id", format!("idn_{}", "0".repeat(32))),
            ("passkey_id", format!("pk_{}", "0".repeat(32))),
        ]);

        let (mut refused, mut admitted) = (0, Vec::new());
        for route in routes() {
            if route.in_org() || route.access == "public" {
                continue;
            }
            let (method, template) = (&route.method, route.template.as_str());
            let label = format!("{method} {template} ({backend:?})");
            let path = fill(template, &ids);
            let response = call(
                &app,
                method,
                &path,
                Some(&bound),
                body_for(method, template, &ids),
            )
            .await;
            if route.access == "introspect" {
                assert!(
                    response.status.is_success(),
                    "{label} must admit a bound token: {}",
                    response.text()
                );
                admitted.push(format!("{method} {template}"));
            } else {
                assert_eq!(response.status, 403, "{label}: {}", response.text());
                response.problem(403, "org_bound_token");
                refused += 1;
            }
        }
        admitted.sort();
        assert_eq!(admitted, ["GET /v1/auth/me", "GET /v1/auth/verify"]);
        assert!(refused >= 15, "only {refused} account routes driven");

        // Nothing the refused calls asked for happened: the session and its tokens live.
        let sessions = owner.get(&app, "/v1/auth/sessions").await;
        assert_eq!(sessions.status, 200, "{}", sessions.text());
        let me = call(&app, &Method::GET, "/v1/auth/me", Some(&bound), None).await;
        assert_eq!(me.status, 200, "{}", me.text());
    }
}

#[tokio::test]
async fn a_bound_token_acts_in_its_own_org_and_tells_who_it_is() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::registered(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Home").await;
        let other = owner.create_org(&app, "Elsewhere").await;
        let bound = owner.with_token(&bound_token(&app, &owner, &org).await);

        // The org's routes, reading and writing, as the owner it stands for.
        assert_eq!(
            bound.get(&app, &format!("/v1/orgs/{org}")).await.status,
            200
        );
        let project = bound.create_project(&app, &org, "by a bound token").await;
        let listed = bound.get(&app, &format!("/v1/orgs/{org}/projects")).await;
        assert_eq!(listed.status, 200, "{}", listed.text());
        assert_eq!(listed.json()["items"][0]["id"], project);
        let members = bound.get(&app, &format!("/v1/orgs/{org}/members")).await;
        assert_eq!(members.status, 200, "{}", members.text());
        // Another org of the same user stays invisible.
        bound
            .get(&app, &format!("/v1/orgs/{other}"))
            .await
            .problem(404, "not_found");

        let me = bound.get(&app, "/v1/auth/me").await;
        assert_eq!(me.status, 200, "{}", me.text());
        assert_eq!(me.json()["user"]["id"], owner.user_id);
        // The session's own token shows both orgs; the bound one only its own.
        let shown = |me: serde_json::Value| -> Vec<String> {
            let items = me["memberships"].as_array().cloned().unwrap_or_default();
            items
                .iter()
                .map(|m| m["org_id"].as_str().expect("org id").to_owned())
                .collect()
        };
        assert_eq!(shown(me.json()), std::slice::from_ref(&org));
        let mut both = shown(owner.get(&app, "/v1/auth/me").await.json());
        both.sort();
        let mut expected = vec![org.clone(), other.clone()];
        expected.sort();
        assert_eq!(both, expected);
        let verified = bound.get(&app, "/v1/auth/verify").await;
        assert_eq!(verified.status, 204, "{}", verified.text());
        assert_eq!(verified.header("x-auth-org-id"), Some(org.as_str()));

        // The refusal is the binding's: the session's own token keeps its account routes.
        let orgs = owner.get(&app, "/v1/orgs").await;
        assert_eq!(orgs.status, 200, "{}", orgs.text());
        assert_eq!(orgs.json()["items"].as_array().map(Vec::len), Some(2));
        bound
            .call(&app, Method::POST, "/v1/auth/logout", None)
            .await
            .problem(403, "org_bound_token");
        let logout = owner
            .call(&app, Method::POST, "/v1/auth/logout", None)
            .await;
        assert_eq!(logout.status, 204, "{}", logout.text());
        // Ending the session ends the tokens bound through it.
        bound
            .get(&app, &format!("/v1/orgs/{org}"))
            .await
            .assert_invalid_token();
    }
}
