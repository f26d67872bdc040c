//! Linking a provider's identity to an existing account — explicitly, never through an
//! unverified email — and unlinking it, and a provider that binds every sign-in to the
//! app's PKCE challenge: end to end through the API on both backends, against the
//! testkit's provider.

use reqwest::Url;
use serde_json::json;
use tenantbase_core::identity::oidc::OidcPolicy;
use tenantbase_testkit::oidc_provider::{OidcProvider, ProviderUser};

use crate::auth::{login, register};
use crate::helpers::{BOTH, TestApp};
use crate::oidc::{
    APP_PAGE, app_with_policy, app_with_provider, caller, confirm, consent, link_code, location,
    sign_in, start_path, through_callback, url_query, with_provider,
};
use crate::passkeys::events_of;
use crate::tenants::Caller;

/// A refused confirmation: one answer for every reason.
async fn confirm_refused(app: &TestApp, who: &Caller, link_code: &str) {
    let refused = confirm(app, who, link_code)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "link_code");
}

#[tokio::test]
async fn an_existing_account_links_a_provider_only_explicitly() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let owner = caller(&register(&app, "owner@example.com").await);
        provider.sign_in_as(ProviderUser::verified("sub-owner", "owner@example.com"));
        let refused = through_callback(&app)
            .await
            .problem(409, "account_exists_link_required");
        assert_eq!(refused["link_route"], "/v1/auth/identities/link");

        // Signed in, the owner links the provider explicitly.
        let bad = owner
            .post(
                &app,
                "/v1/auth/identities/link",
                json!({"provider": "nope", "redirect_uri": APP_PAGE}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(bad["errors"][0]["field"], "provider");
        let code = link_code(&app, &owner).await;
        // The callback linked nothing: the owner's session must confirm.
        assert_eq!(
            owner.get(&app, "/v1/auth/identities").await.json()["items"],
            json!([])
        );
        assert!(events_of(&app, "auth.identity.linked").await.is_empty());
        let confirmed = confirm(&app, &owner, &code).await;
        assert_eq!(confirmed.status, 201, "{}", confirmed.text());
        let identity_id = confirmed.json()["id"].as_str().expect("id").to_owned();
        assert!(identity_id.starts_with("idn_"), "{identity_id}");
        assert_eq!(confirmed.json()["provider"], "test");
        let listed = owner.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(listed["items"][0]["id"], identity_id);
        let linked = events_of(&app, "auth.identity.linked").await;
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0]["payload"]["identity_id"], identity_id.as_str());

        // From now on the provider signs the owner in.
        let tokens = sign_in(&app).await;
        assert_eq!(tokens["user"]["id"].as_str(), Some(owner.user_id.as_str()));

        // The same provider identity cannot be linked to a second account.
        let other = caller(&register(&app, "other@example.com").await);
        let started = other
            .post(
                &app,
                "/v1/auth/identities/link",
                json!({"provider": "test", "redirect_uri": APP_PAGE}),
            )
            .await;
        let url =
            Url::parse(started.json()["authorization_url"].as_str().expect("url")).expect("url");
        app.get(&consent(&url).await)
            .await
            .problem(409, "identity_linked_elsewhere");
        assert_eq!(
            other.get(&app, "/v1/auth/identities").await.json()["items"],
            json!([])
        );
    }
}

#[tokio::test]
async fn unlinking_never_removes_the_last_way_to_sign_in() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        // An account made by the provider has no password: its identity is all it has.
        provider.sign_in_as(ProviderUser::verified("sub-fed", "fed@example.com"));
        let fed = caller(&sign_in(&app).await);
        let listed = fed.get(&app, "/v1/auth/identities").await.json();
        let only = listed["items"][0]["id"].as_str().expect("id").to_owned();
        let path = format!("/v1/auth/identities/{only}");
        fed.call(&app, axum::http::Method::DELETE, &path, None)
            .await
            .problem(409, "last_sign_in_method");

        // An account with a password may unlink; another user's identity is not found.
        let owner = caller(&register(&app, "owner@example.com").await);
        owner
            .call(&app, axum::http::Method::DELETE, &path, None)
            .await
            .problem(404, "identity_not_found");
        owner
            .call(
                &app,
                axum::http::Method::DELETE,
                "/v1/auth/identities/ses_1",
                None,
            )
            .await
            .problem(422, "validation_failed");
        provider.sign_in_as(ProviderUser::verified(
            "sub-owner",
            "owner-at-provider@example.com",
        ));
        let code = link_code(&app, &owner).await;
        let confirmed = confirm(&app, &owner, &code).await;
        assert_eq!(confirmed.status, 201, "{}", confirmed.text());
        let linked = confirmed.json()["id"].as_str().expect("id").to_owned();
        let unlinked = owner
            .call(
                &app,
                axum::http::Method::DELETE,
                &format!("/v1/auth/identities/{linked}"),
                None,
            )
            .await;
        assert_eq!(unlinked.status, 204, "{}", unlinked.text());
        assert_eq!(
            owner.get(&app, "/v1/auth/identities").await.json()["items"],
            json!([])
        );
        let events = events_of(&app, "auth.identity.unlinked").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["payload"]["identity_id"], linked.as_str());
        // The fed account still has its identity.
        let listed = fed.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(listed["items"][0]["id"], only.as_str());
    }
}

#[tokio::test]
async fn a_passkey_is_no_way_to_sign_in_while_passkeys_are_off() {
    for backend in BOTH {
        // No relying party is configured: this server's passkeys cannot sign in.
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-fed", "fed@example.com"));
        let fed = caller(&sign_in(&app).await);
        // A passkey kept from when passkeys were on (its id reuses the user's, a valid one
        // of the same column type on both backends).
        let kept = "INSERT INTO passkeys (id, user_id, credential_id, name, credential, \
                    sign_count, backup_eligible, backed_up, created_at) \
                    SELECT id, id, 'kept-credential', 'Kept', '{}', 0, false, false, created_at \
                    FROM users WHERE email = 'fed@example.com'";
        assert_eq!(app.execute_sql(kept).await, 1);
        let listed = fed.get(&app, "/v1/auth/identities").await.json();
        let only = listed["items"][0]["id"].as_str().expect("id").to_owned();
        fed.call(
            &app,
            axum::http::Method::DELETE,
            &format!("/v1/auth/identities/{only}"),
            None,
        )
        .await
        .problem(409, "last_sign_in_method");
    }
}

#[tokio::test]
async fn a_link_code_links_only_for_the_session_that_started_the_flow() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let attacker = caller(&register(&app, "attacker@example.com").await);
        let victim = caller(&register(&app, "victim@example.com").await);
        provider.sign_in_as(ProviderUser::verified("sub-victim", "victim@example.com"));

        // Link CSRF: the attacker starts a flow, the victim's browser consents and comes
        // back with the code; the victim's app (signed in as the victim) confirms it.
        let lured = link_code(&app, &attacker).await;
        confirm_refused(&app, &victim, &lured).await;
        // That attempt used the code up: the attacker cannot confirm it afterwards.
        confirm_refused(&app, &attacker, &lured).await;
        for who in [&attacker, &victim] {
            let listed = who.get(&app, "/v1/auth/identities").await.json();
            assert_eq!(listed["items"], json!([]));
        }
        assert!(events_of(&app, "auth.identity.linked").await.is_empty());
        // And signing in with the victim's provider identity reaches no account.
        through_callback(&app)
            .await
            .problem(409, "account_exists_link_required");

        // Another session of the same user is not the one that started the flow.
        let code = link_code(&app, &attacker).await;
        let other_session = caller(&login(&app, "attacker@example.com", &[]).await);
        confirm_refused(&app, &other_session, &code).await;

        // A signed-out session cannot confirm.
        let code = link_code(&app, &victim).await;
        let signed_out = victim.post(&app, "/v1/auth/logout", json!({})).await;
        assert_eq!(signed_out.status, 204, "{}", signed_out.text());
        confirm(&app, &victim, &code)
            .await
            .problem(401, "invalid_token");

        // A confirmed code is used up; a forged one is the same refusal.
        let owner = caller(&register(&app, "owner@example.com").await);
        let code = link_code(&app, &owner).await;
        assert_eq!(confirm(&app, &owner, &code).await.status, 201);
        confirm_refused(&app, &owner, &code).await;
        confirm_refused(&app, &owner, "a-code-we-never-issued").await;
        let listed = owner.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(events_of(&app, "auth.identity.linked").await.len(), 1);
    }
}

#[tokio::test]
async fn an_expired_link_code_links_nothing() {
    for backend in BOTH {
        let policy = OidcPolicy {
            link_code_ttl: std::time::Duration::ZERO,
            ..OidcPolicy::default()
        };
        let (app, provider) = app_with_policy(backend, policy).await;
        let owner = caller(&register(&app, "owner@example.com").await);
        provider.sign_in_as(ProviderUser::verified("sub-owner", "owner@example.com"));
        let code = link_code(&app, &owner).await;
        confirm_refused(&app, &owner, &code).await;
        let listed = owner.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(listed["items"], json!([]));
        assert!(events_of(&app, "auth.identity.linked").await.is_empty());
    }
}

#[tokio::test]
async fn an_unverified_email_creates_and_links_nothing() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let mut user = ProviderUser::verified("sub-1", "new@example.com");
        user.email_verified = false;
        provider.sign_in_as(user);
        through_callback(&app)
            .await
            .problem(403, "email_not_verified");
        assert!(
            app.store
                .user_by_email("new@example.com")
                .await
                .expect("read")
                .is_none()
        );

        // Nor does it reach an account that has the address.
        let owner = caller(&register(&app, "owner@example.com").await);
        let mut claimant = ProviderUser::verified("sub-2", "owner@example.com");
        claimant.email_verified = false;
        provider.sign_in_as(claimant);
        through_callback(&app)
            .await
            .problem(403, "email_not_verified");
        let identities = owner.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(identities["items"], json!([]));
        let failed = events_of(&app, "auth.oidc.login.failed").await;
        assert!(
            failed
                .iter()
                .all(|e| e["payload"]["reason"] == "email_not_verified")
        );
        assert_eq!(failed.len(), 2);
    }
}

#[tokio::test]
async fn a_provider_requiring_the_apps_challenge_refuses_sign_in_starts_without_one() {
    for backend in BOTH {
        let provider = OidcProvider::start().await;
        let mut policy = with_provider(&provider, OidcPolicy::default());
        policy.providers[0].require_code_challenge = true;
        let app = TestApp::with_oidc(backend, policy).await;

        let refused = app
            .get(&start_path(APP_PAGE))
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["field"], "code_challenge", "{refused}");
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let bound = url_query(&[("redirect_uri", APP_PAGE), ("code_challenge", challenge)]);
        let started = app.get(&format!("/v1/auth/oidc/test/start?{bound}")).await;
        assert!(location(&started).as_str().starts_with(&provider.issuer));

        // A link is confirmed by the session that started it: it needs no challenge.
        let owner = caller(&register(&app, "owner@example.com").await);
        provider.sign_in_as(ProviderUser::verified("sub-owner", "owner@example.com"));
        let code = link_code(&app, &owner).await;
        let confirmed = confirm(&app, &owner, &code).await;
        assert_eq!(confirmed.status, 201, "{}", confirmed.text());
    }
}
