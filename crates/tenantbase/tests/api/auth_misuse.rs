//! Misbehaving clients on the recovery and second-factor routes, on both backends: bodies
//! wrong in several ways at once, codes replayed, raced or another user's, trust that
//! must end (device ids: `auth_device_ids`; repeated mail: `auth_mail_budgets`).

use axum::http::Method;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::auth::{PASSWORD, post};
use crate::auth_mfa::{enrol_totp, enrolled, mfa_token, sign_in_with, totp_code, verify};
use crate::auth_mfa_email::{mailed_code, send_email_code};
use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, mailed_token, verified};

#[tokio::test]
async fn a_reset_with_a_bad_token_and_a_weak_password_names_both() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        for weak in ["short", "password1234", "aaaaaaaaaaaaaaaa"] {
            let body = json!({"token": "nope", "new_password": weak});
            let fields = post(&app, "/v1/auth/password/reset", body, &[])
                .await
                .invalid_fields();
            assert_eq!(fields, ["new_password", "token"], "{backend:?}: {weak}");
        }
        // A password only the account refuses (its own address) waits for the token.
        let body = json!({"token": "nope", "new_password": "ada@example.com"});
        let fields = post(&app, "/v1/auth/password/reset", body, &[])
            .await
            .invalid_fields();
        assert_eq!(fields, ["token"], "{backend:?}");
    }
}

#[tokio::test]
async fn a_change_with_a_wrong_current_and_a_weak_new_password_names_both() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let caller = verified(&app, "ada@example.com").await;
        let change = |current: &str, new: &str| {
            caller.post(
                &app,
                "/v1/auth/password/change",
                json!({"current_password": current, "new_password": new}),
            )
        };
        let both = change("not the password", "short").await.invalid_fields();
        assert_eq!(both, ["current_password", "new_password"], "{backend:?}");
        let wrong = change("not the password", "a fresh passphrase here").await;
        assert_eq!(wrong.invalid_fields(), ["current_password"], "{backend:?}");
        let weak = change(PASSWORD, "short").await.invalid_fields();
        assert_eq!(weak, ["new_password"], "{backend:?}");
    }
}

#[tokio::test]
async fn racing_one_backup_code_or_one_emailed_code_signs_in_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, _, codes) = enrolled(&app, "ada@example.com").await;
        let tokens = join_all((0..4).map(|_| mfa_token(&app, "ada@example.com", &[]))).await;
        let answers = join_all(
            tokens
                .iter()
                .map(|token| verify(&app, token, "backup_code", &codes[0], &[])),
        )
        .await;
        let passed = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(passed, 1, "{backend:?}: one backup code, one sign-in");

        let caller = verified(&app, "bob@example.com").await;
        let enabled = caller
            .post(&app, "/v1/auth/mfa/email/enable", json!({}))
            .await;
        assert_eq!(enabled.status, 204, "{}", enabled.text());
        let tokens = join_all((0..4).map(|_| mfa_token(&app, "bob@example.com", &[]))).await;
        let sent = send_email_code(&app, &tokens[0]).await;
        assert_eq!(sent.status, 202, "{}", sent.text());
        let code = mailed_code(&app, "bob@example.com").await;
        let answers = join_all(
            tokens
                .iter()
                .chain(tokens.iter())
                .map(|token| verify(&app, token, "email_code", &code, &[])),
        )
        .await;
        let passed = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(passed, 1, "{backend:?}: one emailed code, one sign-in");
    }
}

#[tokio::test]
async fn another_users_codes_and_devices_answer_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (ada, _, ada_codes) = enrolled(&app, "ada@example.com").await;
        let (_, _, _) = enrolled(&app, "bob@example.com").await;
        let token = mfa_token(&app, "bob@example.com", &[]).await;
        verify(&app, &token, "backup_code", &ada_codes[0], &[])
            .await
            .problem(401, "invalid_mfa_code");
        // Ada's trusted laptop does not vouch for Bob.
        let laptop = [("x-device-id", "laptop")];
        let device_token = trust(
            &app,
            "ada@example.com",
            "laptop",
            "backup_code",
            &ada_codes[1],
        )
        .await;
        let as_bob = json!({"email": "bob@example.com", "password": PASSWORD,
            "device_token": device_token});
        assert_eq!(
            sign_in_with(&app, as_bob, &laptop).await["mfa_required"],
            true
        );
        let listed = ada.get(&app, "/v1/auth/trusted-devices").await.json();
        let id = listed["items"][0]["id"].as_str().expect("id").to_owned();
        let bob = Caller::registered(&app, "carl@example.com").await;
        bob.call(
            &app,
            Method::DELETE,
            &format!("/v1/auth/trusted-devices/{id}"),
            None,
        )
        .await
        .problem(404, "trusted_device_not_found");
        let listed = ada.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    }
}

#[tokio::test]
async fn a_password_reset_ends_the_trust_of_every_device() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        // Verified: a reset of an unverified account removes its factors altogether.
        let caller = verified(&app, "ada@example.com").await;
        let (secret, _) = enrol_totp(&app, &caller).await;
        let laptop = [("x-device-id", "laptop")];
        let code = totp_code(&secret, 0);
        let device_token = trust(&app, "ada@example.com", "laptop", "totp", &code).await;
        let reset = requested_reset_token(&app, "ada@example.com").await;
        let new_password = "a different long passphrase";
        let done = post(
            &app,
            "/v1/auth/password/reset",
            json!({"token": reset, "new_password": new_password}),
            &[],
        )
        .await;
        assert_eq!(done.status, 204, "{}", done.text());
        let body = json!({"email": "ada@example.com", "password": new_password,
            "device_token": device_token});
        let first = sign_in_with(&app, body, &laptop).await;
        assert_eq!(first["mfa_required"], true, "{backend:?}: {first}");
    }
}

/// Signs `email` in from `device` with a code of `method`, trusting the device: the
/// device token.
async fn trust(app: &TestApp, email: &str, device: &str, method: &str, code: &str) -> Value {
    let headers = [("x-device-id", device)];
    let token = mfa_token(app, email, &headers).await;
    let body = json!({"mfa_token": token, "method": method, "code": code, "trust_device": true});
    let trusted = post(app, "/v1/auth/mfa/verify", body, &headers).await;
    assert_eq!(trusted.status, 200, "{}", trusted.text());
    trusted.json()["device_token"].clone()
}

/// Asks for a password reset for `to` (202) and returns the token mailed for it. The mail
/// is queued after the answer: waits (bounded) for it.
pub(crate) async fn requested_reset_token(app: &TestApp, to: &str) -> String {
    let forgot = post(app, "/v1/auth/password/forgot", json!({"email": to}), &[]).await;
    assert_eq!(forgot.status, 202, "{}", forgot.text());
    for _ in 0..200 {
        let queued = app.queued_mail().await;
        if queued
            .iter()
            .any(|m| m.to.contains(to) && m.text.contains("reset-password?token="))
        {
            return mailed_token(app, to, "reset-password?token=").await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no reset email to {to}");
}

#[tokio::test]
async fn a_second_step_wrong_in_two_ways_names_both() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, secret, _) = enrolled(&app, "ada@example.com").await;
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        let fields = |response: crate::helpers::TestResponse| response.invalid_fields();
        for method in ["email_code", "passkey"] {
            let body = json!({"mfa_token": token, "method": method, "code": "123456",
                "trust_device": true});
            let refused = post(&app, "/v1/auth/mfa/verify", body, &[]).await;
            assert_eq!(fields(refused), ["method", "trust_device"], "{backend:?}");
        }
        // A method the account has, or a token that does not answer: the trust alone.
        let body = json!({"mfa_token": token, "method": "totp", "code": "123456",
            "trust_device": true});
        let refused = post(&app, "/v1/auth/mfa/verify", body, &[]).await;
        assert_eq!(fields(refused), ["trust_device"], "{backend:?}");
        let body = json!({"mfa_token": "rt_unknown", "method": "email_code", "code": "1",
            "trust_device": true});
        let refused = post(&app, "/v1/auth/mfa/verify", body, &[]).await;
        assert_eq!(fields(refused), ["trust_device"], "{backend:?}");
        // A method that is none, or none at all, does not hide the fields after it.
        for body in [json!({}), json!({"method": "sms"})] {
            let refused = post(&app, "/v1/auth/mfa/verify", body, &[]).await;
            assert_eq!(
                fields(refused),
                ["code", "method", "mfa_token"],
                "{backend:?}"
            );
        }
        // None of it used the token up.
        let passed = verify(&app, &token, "totp", &totp_code(&secret, 0), &[]).await;
        assert_eq!(passed.status, 200, "{backend:?}: {}", passed.text());
    }
}

/// Issue 14 names `GET/DELETE /v1/auth/trusted-devices`: the DELETE ends every trust.
#[tokio::test]
async fn every_trusted_device_is_revoked_at_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (ada, _, codes) = enrolled(&app, "ada@example.com").await;
        let mut device_tokens = Vec::new();
        for (device, code) in ["laptop", "phone"].into_iter().zip(&codes) {
            let device_token = trust(&app, "ada@example.com", device, "backup_code", code).await;
            device_tokens.push((device, device_token));
        }
        let (bob, _, bob_codes) = enrolled(&app, "bob@example.com").await;
        trust(
            &app,
            "bob@example.com",
            "desk",
            "backup_code",
            &bob_codes[0],
        )
        .await;

        let revoked = ada
            .call(&app, Method::DELETE, "/v1/auth/trusted-devices", None)
            .await;
        assert_eq!(revoked.status, 204, "{backend:?}: {}", revoked.text());
        let listed = ada.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(listed["items"], json!([]), "{backend:?}");
        for (device, device_token) in device_tokens {
            let body = json!({"email": "ada@example.com", "password": PASSWORD,
                "device_token": device_token});
            let first = sign_in_with(&app, body, &[("x-device-id", device)]).await;
            assert_eq!(first["mfa_required"], true, "{backend:?}: {first}");
        }
        let listed = bob.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(
            listed["items"].as_array().map(Vec::len),
            Some(1),
            "not Bob's"
        );
    }
}

#[tokio::test]
async fn a_step_up_with_half_a_second_factor_names_the_missing_half() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (ada, secret, _) = enrolled(&app, "ada@example.com").await;
        let plain = Caller::registered(&app, "bob@example.com").await;
        let code = totp_code(&secret, 0);
        for caller in [&ada, &plain] {
            let halves = [
                (json!({"password": PASSWORD, "method": "totp"}), "code"),
                (json!({"password": PASSWORD, "code": code}), "method"),
                (
                    json!({"password": "wrong", "method": "totp", "code": null}),
                    "code",
                ),
            ];
            for (body, missing) in halves {
                let refused = caller.post(&app, "/v1/auth/reauthenticate", body).await;
                assert_eq!(refused.invalid_fields(), [missing], "{backend:?}");
            }
        }
        // The whole factor still passes, and the code was not spent by the refusals.
        let body = json!({"password": PASSWORD, "method": "totp", "code": code});
        let renewed = ada.post(&app, "/v1/auth/reauthenticate", body).await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());
    }
}

#[tokio::test]
async fn racing_one_step_up_code_or_one_reset_token_passes_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (ada, _, codes) = enrolled(&app, "ada@example.com").await;
        let body = json!({"password": PASSWORD, "method": "backup_code", "code": codes[0]});
        let answers =
            join_all((0..4).map(|_| ada.post(&app, "/v1/auth/reauthenticate", body.clone()))).await;
        let passed = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(passed, 1, "{backend:?}: one backup code, one step-up");

        let token = requested_reset_token(&app, "ada@example.com").await;
        let answers = join_all((0..4).map(|i| {
            let body =
                json!({"token": token, "new_password": format!("new passphrase number {i}")});
            post(&app, "/v1/auth/password/reset", body, &[])
        }))
        .await;
        let passed = answers.iter().filter(|a| a.status == 204).count();
        assert_eq!(passed, 1, "{backend:?}: one reset token, one new password");
    }
}
