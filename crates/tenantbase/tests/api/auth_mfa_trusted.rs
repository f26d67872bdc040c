//! Trusted devices through the API, on both backends: a device trusted at the second step
//! skips it until the trust is revoked, expires or the password changes.

use axum::http::Method;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::auth::{PASSWORD, post};
use crate::auth_mfa::{enrolled, event_types, mfa_token, sign_in_with, totp_code};
use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::passkeys_races::{hold_user_row, release_row, waiting_for_locks};
use crate::tenants::Caller;

#[tokio::test]
async fn a_trusted_device_skips_the_second_step_until_revoked_or_the_password_changes() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, secret, codes) = enrolled(&app, "ada@example.com").await;
        let laptop = [
            ("x-device-id", "laptop"),
            ("x-device-label", "Ada's laptop"),
        ];
        let token = mfa_token(&app, "ada@example.com", &laptop).await;
        let body = json!({"mfa_token": token, "method": "totp",
            "code": totp_code(&secret, 0), "trust_device": true});
        post(&app, "/v1/auth/mfa/verify", body.clone(), &[])
            .await
            .problem(422, "validation_failed");
        let unbound = json!({"mfa_token": token, "method": "totp", "code": totp_code(&secret, 0)});
        post(&app, "/v1/auth/mfa/verify", unbound, &[])
            .await
            .problem(401, "invalid_mfa_token");
        let trusted = post(&app, "/v1/auth/mfa/verify", body, &laptop).await;
        assert_eq!(trusted.status, 200, "{}", trusted.text());
        let device_token = trusted.json()["device_token"]
            .as_str()
            .expect("device token")
            .to_owned();

        let with_token = json!({"email": "ada@example.com", "password": PASSWORD,
            "device_token": device_token});
        let skipped = sign_in_with(&app, with_token.clone(), &laptop).await;
        assert!(skipped["access_token"].is_string(), "{skipped}");
        let elsewhere = sign_in_with(&app, with_token.clone(), &[("x-device-id", "phone")]).await;
        assert_eq!(
            elsewhere["mfa_required"], true,
            "bound to its device: {elsewhere}"
        );
        let anonymous = sign_in_with(&app, with_token.clone(), &[]).await;
        assert_eq!(anonymous["mfa_required"], true, "{anonymous}");

        let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
        let items = listed["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{listed}");
        assert_eq!(listed.get("next_cursor"), Some(&json!(null)), "{listed}");
        assert!(items[0]["id"].as_str().expect("id").starts_with("tdv_"));
        assert_eq!(items[0]["device_label"], "Ada's laptop");

        let token = mfa_token(&app, "ada@example.com", &[]).await;
        let body = json!({"mfa_token": token, "method": "backup_code",
            "code": codes[0], "trust_device": true});
        post(&app, "/v1/auth/mfa/verify", body, &[])
            .await
            .problem(422, "validation_failed");

        let changed = caller
            .post(
                &app,
                "/v1/auth/password/change",
                json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
            )
            .await;
        assert_eq!(changed.status, 204, "{}", changed.text());
        let after = json!({"email": "ada@example.com", "password": "another long passphrase",
            "device_token": device_token});
        let first = sign_in_with(&app, after, &laptop).await;
        assert_eq!(
            first["mfa_required"], true,
            "trust ends with the password: {first}"
        );
        let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(listed["items"], json!([]), "{backend:?}");
    }
}

#[tokio::test]
async fn a_revoked_trusted_device_asks_again() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, _, codes) = enrolled(&app, "ada@example.com").await;
        let laptop = [("x-device-id", "laptop")];
        let token = mfa_token(&app, "ada@example.com", &laptop).await;
        let body = json!({"mfa_token": token, "method": "backup_code",
            "code": codes[0], "trust_device": true});
        let trusted = post(&app, "/v1/auth/mfa/verify", body, &laptop).await;
        assert_eq!(trusted.status, 200, "{}", trusted.text());
        let device_token = trusted.json()["device_token"].clone();
        let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
        let id = listed["items"][0]["id"].as_str().expect("id").to_owned();

        let path = format!("/v1/auth/trusted-devices/{id}");
        let revoked = caller.call(&app, Method::DELETE, &path, None).await;
        assert_eq!(revoked.status, 204, "{}", revoked.text());
        caller
            .call(&app, Method::DELETE, &path, None)
            .await
            .problem(404, "trusted_device_not_found");
        caller
            .call(&app, Method::DELETE, "/v1/auth/trusted-devices/nope", None)
            .await
            .problem(422, "validation_failed");
        let other = Caller::registered(&app, "bob@example.com").await;
        other
            .call(&app, Method::DELETE, &path, None)
            .await
            .problem(404, "trusted_device_not_found");
        let body = json!({"email": "ada@example.com", "password": PASSWORD,
            "device_token": device_token});
        let first = sign_in_with(&app, body, &laptop).await;
        assert_eq!(first["mfa_required"], true, "{backend:?}: {first}");
        let types = event_types(&app.platform_events().await)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(types.iter().any(|t| t == "auth.mfa.trusted_device.added"));
        assert!(types.iter().any(|t| t == "auth.mfa.trusted_device.revoked"));
    }
}

#[tokio::test]
async fn a_device_trusted_again_replaces_its_earlier_trust() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, secret, codes) = enrolled(&app, "ada@example.com").await;
        let laptop = [("x-device-id", "laptop")];
        let trust = |method: &'static str, code: String| {
            let app = &app;
            async move {
                let token = mfa_token(app, "ada@example.com", &laptop).await;
                let body = json!({"mfa_token": token, "method": method, "code": code,
                    "trust_device": true});
                let trusted = post(app, "/v1/auth/mfa/verify", body, &laptop).await;
                assert_eq!(trusted.status, 200, "{}", trusted.text());
                trusted.json()["device_token"]
                    .as_str()
                    .expect("device token")
                    .to_owned()
            }
        };
        let first = trust("totp", totp_code(&secret, 0)).await;
        let second = trust("backup_code", codes[0].clone()).await;

        let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(
            listed["items"].as_array().map(Vec::len),
            Some(1),
            "{listed}"
        );
        // Kept in microseconds on both backends, so both show the same time.
        let expires = listed["items"][0]["expires_at"].as_str().expect("expiry");
        let fraction = expires.split('.').nth(1).unwrap_or_default();
        assert!(fraction.len() <= "123456Z".len(), "{backend:?} {expires}");
        let sign_in = |device_token: &str| {
            let body = json!({"email": "ada@example.com", "password": PASSWORD,
                "device_token": device_token});
            sign_in_with(&app, body, &laptop)
        };
        let old = sign_in(&first).await;
        assert_eq!(old["mfa_required"], true, "{backend:?} replaced: {old}");
        let new = sign_in(&second).await;
        assert!(new["access_token"].is_string(), "{backend:?} {new}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_trusted_again_several_times_at_once_keeps_one_trust() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, _, codes) = enrolled(&app, "ada@example.com").await;
        let laptop = [("x-device-id", "laptop")];
        let tokens = join_all((0..8).map(|_| mfa_token(&app, "ada@example.com", &laptop))).await;
        let trusts = join_all(tokens.iter().zip(&codes).map(|(token, code)| {
            let body = json!({"mfa_token": token, "method": "backup_code", "code": code,
                "trust_device": true});
            post(&app, "/v1/auth/mfa/verify", body, &laptop)
        }))
        .await;
        for trusted in &trusts {
            assert_eq!(trusted.status, 200, "{backend:?}: {}", trusted.text());
        }

        // One trust for the device: on PostgreSQL, re-trusts at once each missed the
        // others' rows (read committed) and all of them stayed.
        let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
        assert_eq!(
            listed["items"].as_array().map(Vec::len),
            Some(1),
            "{backend:?}: {listed}"
        );
    }
}

/// A password change landing between the second step's unit, which opens the session, and
/// the one that trusts the device ends that session and every trust of the account: the
/// trust must not be added after it, earned under the old password. Several rounds per
/// backend, each with the next password.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_changed_while_a_device_is_trusted_leaves_no_trust() {
    const PASSWORDS: [&str; 4] = [
        PASSWORD,
        "a second long passphrase",
        "a third long passphrase",
        "a fourth long passphrase",
    ];
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, _, codes) = enrolled(&app, "ada@example.com").await;
        let laptop = [("x-device-id", "laptop")];
        for (round, passwords) in PASSWORDS.windows(2).enumerate() {
            let first = json!({"email": "ada@example.com", "password": passwords[0]});
            let first = sign_in_with(&app, first, &laptop).await;
            let body = json!({"mfa_token": first["mfa_token"], "method": "backup_code",
                "code": codes[round], "trust_device": true});
            let trust = post(&app, "/v1/auth/mfa/verify", body, &laptop);
            let change = caller.post(
                &app,
                "/v1/auth/password/change",
                json!({"current_password": passwords[0], "new_password": passwords[1]}),
            );
            let (trusted, changed) = match backend {
                Backend::Postgres => changed_in_flight(&app, trust, change).await,
                // The writer runs one unit at a time, queued for it in no order the test
                // controls: the change comes after the trust.
                Backend::Sqlite => (trust.await, change.await),
            };
            assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());
            // The trust's unit either ran before the change (which ended the trust) or
            // after it, refused like the second step the change ended.
            let device_token = match trusted.status.as_u16() {
                200 => trusted.json()["device_token"].clone(),
                _ => {
                    trusted.problem(401, "invalid_mfa_token");
                    Value::Null
                }
            };

            let listed = caller.get(&app, "/v1/auth/trusted-devices").await.json();
            assert_eq!(listed["items"], json!([]), "{backend:?} round {round}");
            let after = json!({"email": "ada@example.com", "password": passwords[1],
                "device_token": device_token});
            let first = sign_in_with(&app, after, &laptop).await;
            assert_eq!(first["mfa_required"], true, "{backend:?}: {first}");
        }
    }
}

/// On PostgreSQL: the second step (trusting the device) and the password change lined up,
/// the second step waiting for Ada's row (held from outside) with her `mfa_token` consumed
/// and the change waiting for that token's row, which it deletes first. Let go, the
/// session commits and the change goes on at once, racing the trust's unit for her row
/// with less left to do (nothing can hold the trust back alone: the session's unit takes
/// the same row). Answers the second step's response and the change's.
async fn changed_in_flight(
    app: &TestApp,
    trust: impl Future<Output = TestResponse>,
    change: impl Future<Output = TestResponse>,
) -> (TestResponse, TestResponse) {
    let holder = hold_user_row(app, "ada@example.com").await;
    let change = async {
        waiting_for_locks(app, 1).await;
        change.await
    };
    let release = async {
        waiting_for_locks(app, 2).await;
        release_row(holder).await;
    };
    let (trusted, changed, ()) = tokio::join!(trust, change, release);
    (trusted, changed)
}
