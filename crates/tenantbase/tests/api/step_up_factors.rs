//! Step-up with every second factor an account has, end to end on both backends: an
//! account whose only factor is emailed codes is refused with its password alone and
//! passes with a mailed code (single use, throttled like the sign-in's); an account made
//! by an OpenID provider is told to sign in again, and a new sign-in passes the guarded
//! change (or a passkey steps it up: `passkeys_step_up`).

use std::time::Duration;

use serde_json::{Value, json};
use tenantbase_core::identity::StepUpPolicy;
use tenantbase_testkit::oidc_provider::ProviderUser;

use crate::auth::{PASSWORD, post};
use crate::auth_mfa::{mfa_token, verify};
use crate::auth_mfa_email::{mailed_code, send_email_code};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::oidc_mfa::app_with_provider_and;
use crate::passkeys::{SoftKey, add_passkey, events_of, relying_party};
use crate::passkeys_step_up::passkey_step_up;
use crate::step_up::claims;
use crate::tenants::{Caller, verified};

/// The step-up window of these tests: long enough to set an account up in, short enough
/// to outwait.
const WINDOW: Duration = Duration::from_secs(2);

pub(crate) fn short_window() -> StepUpPolicy {
    StepUpPolicy {
        max_age: WINDOW,
        ..StepUpPolicy::default()
    }
}

/// Past the window of every sign-in made before the call.
pub(crate) async fn outwait_the_window() {
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;
}

/// Creating an API key in `org`: a change that needs a recent sign-in.
pub(crate) async fn create_key(app: &TestApp, caller: &Caller, org: &str) -> TestResponse {
    let body = json!({"name": "ci", "permissions": ["projects:read"]});
    caller
        .post(app, &format!("/v1/orgs/{org}/api-keys"), body)
        .await
}

pub(crate) async fn reauthenticate(app: &TestApp, caller: &Caller, body: Value) -> TestResponse {
    caller.post(app, "/v1/auth/reauthenticate", body).await
}

/// The second factors a step-up by password alone is asked for.
pub(crate) async fn methods_asked(app: &TestApp, caller: &Caller) -> Value {
    let asked = reauthenticate(app, caller, json!({"password": PASSWORD}))
        .await
        .problem(401, "second_factor_required");
    asked["methods"].clone()
}

pub(crate) fn renewed_caller(caller: &Caller, renewed: &TestResponse) -> Caller {
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    caller.with_token(renewed.json()["access_token"].as_str().expect("token"))
}

/// An email-code account past its window, with an org to guard a change in.
async fn email_code_account(app: &TestApp, email: &str) -> (Caller, String) {
    let caller = verified(app, email).await;
    let enabled = caller
        .post(app, "/v1/auth/mfa/email/enable", json!({}))
        .await;
    assert_eq!(enabled.status, 204, "{}", enabled.text());
    let org = caller.create_org(app, "Mailed Co").await;
    outwait_the_window().await;
    (caller, org)
}

#[tokio::test]
async fn an_email_code_account_steps_up_with_its_password_and_a_mailed_code() {
    for backend in BOTH {
        let app = TestApp::with_step_up(backend, short_window()).await;
        let email = "mae@example.com";
        let (mae, org) = email_code_account(&app, email).await;
        create_key(&app, &mae, &org)
            .await
            .problem(401, "reauthentication_required");

        // The password alone no longer passes.
        assert_eq!(methods_asked(&app, &mae).await, json!(["email_code"]));
        let with_code =
            |code: &str| json!({"password": PASSWORD, "method": "email_code", "code": code});
        // No code was sent yet: any code is wrong.
        reauthenticate(&app, &mae, with_code("123456"))
            .await
            .problem(401, "invalid_mfa_code");

        let sent = mae
            .post(&app, "/v1/auth/reauthenticate/email-code", json!({}))
            .await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let code = mailed_code(&app, email).await;
        let subjects: Vec<String> = app
            .queued_mail()
            .await
            .into_iter()
            .filter(|m| m.to.contains(email) && m.subject.contains("code"))
            .map(|m| m.subject)
            .collect();
        assert_eq!(
            subjects,
            ["Your tenantbase confirmation code"],
            "{backend:?}"
        );
        let wrong = if code == "000000" { "000001" } else { "000000" };
        reauthenticate(&app, &mae, with_code(wrong))
            .await
            .problem(401, "invalid_mfa_code");
        // The right code behind a wrong password proves nothing, and is not spent.
        let mut behind_wrong_password = with_code(&code);
        behind_wrong_password["password"] = json!("wrong one");
        reauthenticate(&app, &mae, behind_wrong_password)
            .await
            .problem(401, "invalid_credentials");
        let renewed = reauthenticate(&app, &mae, with_code(&code)).await;
        let stepped_up = renewed_caller(&mae, &renewed);
        let created = create_key(&app, &stepped_up, &org).await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
        // Used once.
        reauthenticate(&app, &mae, with_code(&code))
            .await
            .problem(401, "invalid_mfa_code");

        let sends = events_of(&app, "auth.step_up.email_code.sent").await;
        assert_eq!(sends.len(), 1, "{backend:?}");
        assert_eq!(sends[0]["actor_id"], mae.user_id.as_str());
        let steps = events_of(&app, "auth.step_up.succeeded").await;
        assert_eq!(steps.len(), 1, "{backend:?}");
        assert_eq!(steps[0]["payload"]["method"], "email_code");
        // The code travels sealed in the mail job, never in plain text.
        let jobs = app.store.list_jobs(None, 1000).await.expect("jobs");
        let mail_jobs: Vec<_> = jobs.iter().filter(|j| j.kind == "mail.send").collect();
        assert!(!mail_jobs.is_empty());
        for job in mail_jobs {
            let payload = job.payload.to_string();
            assert!(job.payload["sealed"].is_string(), "{backend:?}: {payload}");
            assert!(
                !payload.contains(&code),
                "{backend:?}: the code in {payload}"
            );
        }
    }
}

#[tokio::test]
async fn step_up_codes_are_throttled_like_the_sign_ins() {
    for backend in BOTH {
        let app = TestApp::with_step_up(backend, short_window()).await;
        let (mae, _) = email_code_account(&app, "mae@example.com").await;
        let mut sends = 0;
        let refused = loop {
            let sent = mae
                .post(&app, "/v1/auth/reauthenticate/email-code", json!({}))
                .await;
            if sent.status != 202 {
                break sent;
            }
            sends += 1;
            assert!(sends <= 10, "{backend:?}: sends are not throttled");
        };
        refused.problem(429, "too_many_attempts");
        assert!(refused.header("retry-after").is_some());
        assert_eq!(sends, 10, "{backend:?}");
        // The sign-in's sends have a budget of their own: a session (perhaps a stolen
        // one) cannot use it up and keep the owner from signing in to end it.
        let mfa_token = mfa_token(&app, "mae@example.com", &[]).await;
        let sent = send_email_code(&app, &mfa_token).await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());

        // Guessing codes counts against the account like guessing passwords.
        let guess = json!({"password": PASSWORD, "method": "email_code", "code": "000000"});
        let mut guesses = 0;
        let refused = loop {
            let answer = reauthenticate(&app, &mae, guess.clone()).await;
            if answer.status == 429 {
                break answer;
            }
            answer.problem(401, "invalid_mfa_code");
            guesses += 1;
            assert!(guesses <= 10, "{backend:?}: guesses are not throttled");
        };
        refused.problem(429, "too_many_attempts");
    }
}

#[tokio::test]
async fn an_account_without_a_password_signs_in_again_or_uses_its_passkey() {
    for backend in BOTH {
        let (app, provider) = app_with_provider_and(backend, |options| {
            options.passkeys = Some(relying_party());
            options.step_up = short_window();
        })
        .await;
        provider.sign_in_as(ProviderUser::verified("sub-fed", "fed@example.com"));
        let fed = Caller::from_tokens(&crate::oidc::sign_in(&app).await);
        let org = fed.create_org(&app, "Federated Co").await;
        let first = claims(&fed.token);
        outwait_the_window().await;
        create_key(&app, &fed, &org)
            .await
            .problem(401, "reauthentication_required");

        // No password to step up with: the answer says to sign in with the provider.
        let told = reauthenticate(&app, &fed, json!({"password": "anything at all"}))
            .await
            .problem(409, "no_password");
        assert_eq!(told["providers"], json!(["test"]), "{backend:?}");
        assert_eq!(told["methods"], json!([]));
        assert!(
            told["detail"]
                .as_str()
                .is_some_and(|d| d.contains("/v1/auth/oidc/test/start")),
            "{told}"
        );
        // And a new sign-in there is a recent one.
        let again = Caller::from_tokens(&crate::oidc::sign_in(&app).await);
        assert_eq!(again.user_id, fed.user_id);
        assert!(claims(&again.token)["auth_time"].as_i64() > first["auth_time"].as_i64());
        let created = create_key(&app, &again, &org).await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());

        // With a passkey the same account steps up in place instead.
        let mut key = SoftKey::default();
        add_passkey(&app, &again, &mut key, "Phone").await;
        outwait_the_window().await;
        let told = reauthenticate(&app, &again, json!({"password": "anything at all"}))
            .await
            .problem(409, "no_password");
        assert_eq!(told["methods"], json!(["passkey"]), "{backend:?}");
        let renewed = passkey_step_up(&app, &again, &mut key).await;
        let stepped_up = renewed_caller(&again, &renewed);
        let created = create_key(&app, &stepped_up, &org).await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
    }
}

#[tokio::test]
async fn an_emailed_code_answers_only_what_it_was_sent_for() {
    for backend in BOTH {
        let app = TestApp::with_step_up(backend, short_window()).await;
        let email = "mae@example.com";
        let (mae, _) = email_code_account(&app, email).await;
        // A step-up's code, the account's live one, does not finish a sign-in.
        let token = mfa_token(&app, email, &[]).await;
        let sent = mae
            .post(&app, "/v1/auth/reauthenticate/email-code", json!({}))
            .await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let step_up_code = mailed_code(&app, email).await;
        verify(&app, &token, "email_code", &step_up_code, &[])
            .await
            .problem(401, "invalid_mfa_code");
        // Nor does a sign-in's code answer a step-up.
        let sent = send_email_code(&app, &token).await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let sign_in_code = mailed_code(&app, email).await;
        let with_code = json!({"password": PASSWORD, "method": "email_code", "code": sign_in_code});
        reauthenticate(&app, &mae, with_code)
            .await
            .problem(401, "invalid_mfa_code");
        // Each still answers what it was sent for.
        let signed_in = verify(&app, &token, "email_code", &sign_in_code, &[]).await;
        assert_eq!(signed_in.status, 200, "{backend:?}: {}", signed_in.text());
    }
}

#[tokio::test]
async fn a_sign_in_code_and_a_step_up_code_do_not_cancel_each_other() {
    for backend in BOTH {
        let app = TestApp::with_step_up(backend, short_window()).await;
        let email = "mae@example.com";
        let (mae, _) = email_code_account(&app, email).await;
        let with_code =
            |code: &str| json!({"password": PASSWORD, "method": "email_code", "code": code});
        // A sign-in elsewhere waits for its code while the session asks for a step-up's.
        let token = mfa_token(&app, email, &[]).await;
        let sent = send_email_code(&app, &token).await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let sign_in_code = mailed_code(&app, email).await;
        let sent = mae
            .post(&app, "/v1/auth/reauthenticate/email-code", json!({}))
            .await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let step_up_code = mailed_code(&app, email).await;
        let signed_in = verify(&app, &token, "email_code", &sign_in_code, &[]).await;
        assert_eq!(signed_in.status, 200, "{backend:?}: {}", signed_in.text());

        // And the reverse: a new sign-in's code leaves the step-up's working.
        let token = mfa_token(&app, email, &[]).await;
        let sent = send_email_code(&app, &token).await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let replaced = mailed_code(&app, email).await;
        let renewed = reauthenticate(&app, &mae, with_code(&step_up_code)).await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());

        // Within one purpose a new code still replaces the older one.
        let sent = send_email_code(&app, &token).await;
        assert_eq!(sent.status, 202, "{backend:?}: {}", sent.text());
        let newest = mailed_code(&app, email).await;
        verify(&app, &token, "email_code", &replaced, &[])
            .await
            .problem(401, "invalid_mfa_code");
        let signed_in = verify(&app, &token, "email_code", &newest, &[]).await;
        assert_eq!(signed_in.status, 200, "{backend:?}: {}", signed_in.text());
    }
}

#[tokio::test]
async fn an_active_factor_that_cannot_answer_refuses_the_password_alone_at_step_up_and_sign_in() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (mae, _) = email_code_account(&app, "mae@example.com").await;
        // The address stops being verified (as a change of address leaves it): codes
        // cannot be mailed, and the password alone must not pass instead.
        let sql = "UPDATE users SET email_verified = FALSE";
        assert_eq!(app.execute_sql(sql).await, 1, "{backend:?}");
        reauthenticate(&app, &mae, json!({"password": PASSWORD}))
            .await
            .problem(409, "mfa_unavailable");
        mae.post(&app, "/v1/auth/reauthenticate/email-code", json!({}))
            .await
            .problem(409, "mfa_unavailable");
        assert!(events_of(&app, "auth.step_up.succeeded").await.is_empty());
        // Nor does a sign-in pass on the password alone, and it opens no session.
        let every_session = "UPDATE sessions SET device_label = device_label";
        let sessions = app.execute_sql(every_session).await;
        let body = json!({"email": "mae@example.com", "password": PASSWORD});
        post(&app, "/v1/auth/login", body, &[])
            .await
            .problem(409, "mfa_unavailable");
        assert_eq!(
            app.execute_sql(every_session).await,
            sessions,
            "{backend:?}"
        );
    }
}
