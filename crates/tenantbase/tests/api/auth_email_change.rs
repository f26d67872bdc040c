//! Changing an account's email on both backends: asked for with a recent sign-in,
//! done by the link mailed to the new address (its token bound to that address), told to
//! the old one; links mailed to the old address before stop working.

use serde_json::json;

use crate::auth::{PASSWORD, login, post, register, token};
use crate::auth_misuse::requested_reset_token;
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::{Caller, mailed_token};

const CHANGE: &str = "/v1/auth/email/change";
const CONFIRM: &str = "/v1/auth/email/change/confirm";

/// The token of the newest change link mailed to `to`, whose `email` must be `to`.
async fn change_token(app: &TestApp, to: &str) -> String {
    let token = mailed_token(app, to, "/change-email?token=").await;
    let email: String = url::form_urlencoded::byte_serialize(to.as_bytes()).collect();
    let link = format!("/change-email?token={token}&email={email}");
    let mail = app.queued_mail().await;
    assert!(mail.iter().any(|m| m.text.contains(&link)), "{link} mailed");
    token
}

async fn confirm(app: &TestApp, token: &str, email: &str) -> TestResponse {
    post(app, CONFIRM, json!({"token": token, "email": email}), &[]).await
}

#[tokio::test]
async fn the_link_mailed_to_the_new_address_changes_it() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let registered = register(&app, "ada@example.com").await;
        let ada = Caller::from_tokens(&registered);
        let verify = mailed_token(&app, "ada@example.com", "/verify-email?token=").await;

        let asked = ada
            .post(&app, CHANGE, json!({"email": "Ada.New@Example.com"}))
            .await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        assert_eq!(asked.json()["pending_email"], "ada.new@example.com");
        assert!(asked.json()["expires_at"].is_string());
        let link_email = "ada.new@example.com";
        let link_token = change_token(&app, link_email).await;
        // Nothing changes until the link is followed.
        let me = ada.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["user"]["email"], "ada@example.com");

        // The token is bound to the address it was mailed to.
        confirm(&app, &link_token, "eve@example.com")
            .await
            .problem(422, "validation_failed");
        let changed = confirm(&app, &link_token, link_email).await;
        assert_eq!(changed.status, 200, "{backend:?}: {}", changed.text());
        assert_eq!(changed.json()["email"], "ada.new@example.com");
        confirm(&app, &link_token, link_email)
            .await
            .problem(422, "validation_failed");

        let me = ada.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["user"]["email"], "ada.new@example.com");
        assert_eq!(me["email_verified"], true, "the link proved the address");
        let told = app.queued_mail().await;
        assert!(
            told.iter()
                .any(|m| m.to.contains("ada@example.com") && m.subject.contains("was changed")),
            "{backend:?}: the old address is told"
        );
        // The old address signs in no more; its verification link is spent.
        assert!(!token(&login(&app, "ada.new@example.com", &[]).await).is_empty());
        post(
            &app,
            "/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
            &[],
        )
        .await
        .problem(401, "invalid_credentials");
        post(&app, "/v1/auth/email/verify", json!({"token": verify}), &[])
            .await
            .problem(422, "validation_failed");

        let events = app.platform_event_types().await;
        for expected in ["auth.email.change_requested", "auth.email.changed"] {
            assert!(
                events.iter().any(|e| e == expected),
                "{backend:?}: {expected}"
            );
        }
    }
}

#[tokio::test]
async fn a_reset_link_mailed_to_the_old_address_stops_working() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let reset = requested_reset_token(&app, "ada@example.com").await;

        let asked = ada
            .post(&app, CHANGE, json!({"email": "ada2@example.com"}))
            .await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        let link_token = change_token(&app, "ada2@example.com").await;
        let changed = confirm(&app, &link_token, "ada2@example.com").await;
        assert_eq!(changed.status, 200, "{backend:?}: {}", changed.text());

        let body = json!({"token": reset, "new_password": "a completely new passphrase"});
        post(&app, "/v1/auth/password/reset", body, &[])
            .await
            .problem(422, "validation_failed");
    }
}

#[tokio::test]
async fn changes_that_cannot_be_are_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        register(&app, "bob@example.com").await;

        ada.post(&app, CHANGE, json!({"email": "BOB@example.com"}))
            .await
            .problem(409, "email_taken");
        let own = ada
            .post(&app, CHANGE, json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(
            own.problem(422, "validation_failed")["errors"][0]["field"],
            "email"
        );
        // Refused as registration refuses them, mail could not reach them either.
        for address in [
            "not an address",
            "x..y@example.com",
            "a,b@example.com",
            "x@[127.0.0.1]",
        ] {
            let bad = ada.post(&app, CHANGE, json!({"email": address})).await;
            assert_eq!(
                bad.problem(422, "validation_failed")["errors"][0]["field"],
                "email",
                "{backend:?}: {address}"
            );
        }
        ada.post(&app, CHANGE, json!({"mail": "x@example.com"}))
            .await
            .problem(422, "validation_failed");
        post(&app, CHANGE, json!({"email": "x@example.com"}), &[])
            .await
            .problem(401, "missing_token");

        let guest = post(&app, "/v1/auth/guest", json!({}), &[]).await.json();
        Caller::from_tokens(&guest)
            .post(&app, CHANGE, json!({"email": "guest@example.com"}))
            .await
            .problem(409, "no_email");

        // A newer request replaces the older link.
        for address in ["first@example.com", "second@example.com"] {
            let asked = ada.post(&app, CHANGE, json!({"email": address})).await;
            assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        }
        let first = change_token(&app, "first@example.com").await;
        confirm(&app, &first, "first@example.com")
            .await
            .problem(422, "validation_failed");

        // Another account took the address meanwhile: refused, and the link is not spent.
        let second = change_token(&app, "second@example.com").await;
        let taker = register(&app, "second@example.com").await;
        confirm(&app, &second, "second@example.com")
            .await
            .problem(409, "email_taken");
        let me = ada.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["user"]["email"], "ada@example.com", "{backend:?}");
        assert!(taker["access_token"].is_string());
    }
}

#[tokio::test]
async fn a_password_change_ends_a_pending_email_change() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let asked = ada
            .post(&app, CHANGE, json!({"email": "ada2@example.com"}))
            .await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        let link_token = change_token(&app, "ada2@example.com").await;
        let body = json!({"current_password": PASSWORD, "new_password": "another long passphrase"});
        let changed = ada.post(&app, "/v1/auth/password/change", body).await;
        assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());
        confirm(&app, &link_token, "ada2@example.com")
            .await
            .problem(422, "validation_failed");
    }
}
