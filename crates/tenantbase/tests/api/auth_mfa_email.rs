//! Emailed sign-in codes through the API, on both backends: for accounts that opted in,
//! and as a fallback to an authenticator app only when configured.

use axum::http::Method;
use serde_json::json;

use crate::auth::post;
use crate::auth_mfa::{confirm_with_previous_step, event_types, mfa_token, sign_in, verify};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::{Caller, verified};

/// Asks for a sign-in code by email for the second step of `mfa_token`.
pub(crate) async fn send_email_code(app: &TestApp, mfa_token: &str) -> TestResponse {
    post(
        app,
        "/v1/auth/mfa/email/send",
        json!({"mfa_token": mfa_token}),
        &[],
    )
    .await
}

/// The code in the last `mfa_code` email (a sign-in or a confirmation code) to `to`.
pub(crate) async fn mailed_code(app: &TestApp, to: &str) -> String {
    const LEAD: &str = "code is:";
    let text = app
        .queued_mail()
        .await
        .into_iter()
        // Newest first, as the job list is.
        .filter(|m| m.to.contains(to))
        .map(|m| m.text)
        .find(|t| t.contains(LEAD))
        .unwrap_or_else(|| panic!("no code mailed to {to}"));
    let after = &text[text.find(LEAD).expect("code") + LEAD.len()..];
    let code: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{text}");
    code
}

/// Enrols and confirms an authenticator app for `caller`.
async fn enrol_totp(app: &TestApp, caller: &Caller) {
    let secret = caller
        .post(app, "/v1/auth/mfa/totp/enroll", json!({}))
        .await
        .json()["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let confirmed = confirm_with_previous_step(app, caller, &secret).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
}

#[tokio::test]
async fn emailed_codes_for_accounts_that_opted_in() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let unverified = Caller::registered(&app, "bob@example.com").await;
        unverified
            .post(&app, "/v1/auth/mfa/email/enable", json!({}))
            .await
            .problem(409, "mfa_unavailable");
        let caller = verified(&app, "ada@example.com").await;
        for _ in 0..2 {
            let enabled = caller
                .post(&app, "/v1/auth/mfa/email/enable", json!({}))
                .await;
            assert_eq!(enabled.status, 204, "idempotent: {}", enabled.text());
        }
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status["factors"][0]["type"], "email");
        assert_eq!(status["factors"][0]["confirmed"], true);

        let first = sign_in(&app, "ada@example.com", &[]).await;
        assert_eq!(first["methods"], json!(["email_code"]), "{first}");
        let token = first["mfa_token"].as_str().expect("token");
        let sent = send_email_code(&app, token).await;
        assert_eq!(sent.status, 202, "{}", sent.text());
        let code = mailed_code(&app, "ada@example.com").await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        verify(&app, token, "email_code", wrong, &[])
            .await
            .problem(401, "invalid_mfa_code");
        let passed = verify(&app, token, "email_code", &code, &[]).await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let me = caller
            .with_token(passed.json()["access_token"].as_str().expect("at"))
            .get(&app, "/v1/auth/me")
            .await
            .json();
        assert_eq!(me["auth_methods"], json!(["pwd", "otp", "mfa"]));
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        verify(&app, &token, "email_code", &code, &[])
            .await
            .problem(401, "invalid_mfa_code");
        let types = event_types(&app.platform_events().await)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(types.iter().any(|t| t == "auth.mfa.email.enabled"));
        assert!(types.iter().any(|t| t == "auth.mfa.email_code.sent"));

        let disabled = caller
            .call(&app, Method::DELETE, "/v1/auth/mfa/email", None)
            .await;
        assert_eq!(disabled.status, 204, "{}", disabled.text());
        assert!(sign_in(&app, "ada@example.com", &[]).await["access_token"].is_string());
    }
}

#[tokio::test]
async fn emailed_codes_as_a_fallback_only_when_configured() {
    for backend in BOTH {
        for fallback in [false, true] {
            let app = TestApp::with_mfa_email_fallback(backend, fallback).await;
            let caller = verified(&app, "ada@example.com").await;
            enrol_totp(&app, &caller).await;
            let first = sign_in(&app, "ada@example.com", &[]).await;
            let token = first["mfa_token"].as_str().expect("token");
            let sent = send_email_code(&app, token).await;
            if fallback {
                assert_eq!(
                    first["methods"],
                    json!(["totp", "email_code", "backup_code"])
                );
                assert_eq!(sent.status, 202, "{}", sent.text());
                let code = mailed_code(&app, "ada@example.com").await;
                let passed = verify(&app, token, "email_code", &code, &[]).await;
                assert_eq!(passed.status, 200, "{}", passed.text());
            } else {
                assert_eq!(first["methods"], json!(["totp", "backup_code"]));
                sent.problem(409, "mfa_unavailable");
                verify(&app, token, "email_code", "123456", &[])
                    .await
                    .problem(422, "validation_failed");
                // Nor by opting in, before the app or after it.
                caller
                    .post(&app, "/v1/auth/mfa/email/enable", json!({}))
                    .await
                    .problem(409, "mfa_unavailable");
                let earlier = verified(&app, "bob@example.com").await;
                let enabled = earlier
                    .post(&app, "/v1/auth/mfa/email/enable", json!({}))
                    .await;
                assert_eq!(enabled.status, 204, "{}", enabled.text());
                enrol_totp(&app, &earlier).await;
                let first = sign_in(&app, "bob@example.com", &[]).await;
                assert_eq!(first["methods"], json!(["totp", "backup_code"]), "{first}");
                let token = first["mfa_token"].as_str().expect("token");
                send_email_code(&app, token)
                    .await
                    .problem(409, "mfa_unavailable");
            }
        }
    }
}
