//! Changing an account's email on both backends: asked for with a recent sign-in,
//! done by the link mailed to the new address (its token bound to that address), told to
//! the old one; links mailed to the old address before stop working.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::auth::{PASSWORD, login, post, register, token};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::Caller;

const CHANGE: &str = "/v1/auth/email/change";
const CONFIRM: &str = "/v1/auth/email/change/confirm";

/// The `(token, email)` of the newest link of `path` (`/change-email`) mailed to `to`.
async fn mailed_link(app: &TestApp, to: &str, path: &str) -> (String, String) {
    let lead = format!("{path}?");
    let text = app
        .queued_mail()
        .await
        .into_iter()
        // Newest first, as the job list is.
        .filter(|m| m.to.contains(to))
        .map(|m| m.text)
        .find(|t| t.contains(&lead))
        .unwrap_or_else(|| panic!("no {path} link mailed to {to}"));
    let query = text[text.find(&lead).expect("link") + lead.len()..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let value = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    (value("token"), value("email"))
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
        let (verify, _) = mailed_link(&app, "ada@example.com", "/verify-email").await;

        let asked = ada
            .post(&app, CHANGE, json!({"email": "Ada.New@Example.com"}))
            .await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        assert_eq!(asked.json()["pending_email"], "ada.new@example.com");
        assert!(asked.json()["expires_at"].is_string());
        let (link_token, link_email) =
            mailed_link(&app, "ada.new@example.com", "/change-email").await;
        assert_eq!(link_email, "ada.new@example.com");
        // Nothing changes until the link is followed.
        let me = ada.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["user"]["email"], "ada@example.com");

        // The token is bound to the address it was mailed to.
        confirm(&app, &link_token, "eve@example.com")
            .await
            .problem(422, "validation_failed");
        let changed = confirm(&app, &link_token, &link_email).await;
        assert_eq!(changed.status, 200, "{backend:?}: {}", changed.text());
        assert_eq!(changed.json()["email"], "ada.new@example.com");
        confirm(&app, &link_token, &link_email)
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

        let events: Vec<String> = app
            .platform_events()
            .await
            .iter()
            .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
            .collect();
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
        let forgot = post(
            &app,
            "/v1/auth/password/forgot",
            json!({"email": "ada@example.com"}),
            &[],
        )
        .await;
        assert_eq!(forgot.status, 202);
        // The reset mail is queued after the answer: wait for it, a bounded while.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !app
            .queued_mail()
            .await
            .iter()
            .any(|m| m.text.contains("/reset-password?"))
        {
            assert!(Instant::now() < deadline, "{backend:?}: no reset mail");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (reset, _) = mailed_link(&app, "ada@example.com", "/reset-password").await;

        let asked = ada
            .post(&app, CHANGE, json!({"email": "ada2@example.com"}))
            .await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        let (link_token, link_email) = mailed_link(&app, "ada2@example.com", "/change-email").await;
        assert_eq!(confirm(&app, &link_token, &link_email).await.status, 200);

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
        let (first, _) = mailed_link(&app, "first@example.com", "/change-email").await;
        confirm(&app, &first, "first@example.com")
            .await
            .problem(422, "validation_failed");

        // Another account took the address meanwhile: refused, and the link is not spent.
        let (second, _) = mailed_link(&app, "second@example.com", "/change-email").await;
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
        let (link_token, link_email) = mailed_link(&app, "ada2@example.com", "/change-email").await;
        let body = json!({"current_password": PASSWORD, "new_password": "another long passphrase"});
        let changed = ada.post(&app, "/v1/auth/password/change", body).await;
        assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());
        confirm(&app, &link_token, &link_email)
            .await
            .problem(422, "validation_failed");
    }
}
