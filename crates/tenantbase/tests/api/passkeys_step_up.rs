//! A passkey as a step-up, end to end on both backends: a user-verified passkey alone
//! renews the session's `auth_time` (the caller's own passkey, answering a step-up
//! ceremony started in the same session), and every refusal is audited as a failed
//! step-up.

use serde_json::{Value, json};

use crate::auth::{PASSWORD, login};
use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::passkeys::{ORIGIN, SoftKey, add_passkey, events_of, login_start, relying_party};
use crate::step_up::claims;
use crate::step_up_factors::{
    create_key, methods_asked, outwait_the_window, reauthenticate, renewed_caller, short_window,
};
use crate::tenants::Caller;

/// An app with passkeys and the short window.
async fn passkey_app(backend: Backend) -> TestApp {
    TestApp::configured(backend, |options| {
        options.passkeys = Some(relying_party());
        options.step_up = short_window();
    })
    .await
}

/// `caller`'s passkey step-up with `key` answering: options, then the finish's answer.
pub(crate) async fn passkey_step_up(
    app: &TestApp,
    caller: &Caller,
    key: &mut SoftKey,
) -> TestResponse {
    let options = caller
        .post(app, "/v1/auth/reauthenticate/passkey/start", json!({}))
        .await;
    assert_eq!(options.status, 200, "{}", options.text());
    let credential = key.get(ORIGIN, &options.json()).await;
    finish_passkey(app, caller, &credential).await
}

async fn finish_passkey(app: &TestApp, caller: &Caller, credential: &Value) -> TestResponse {
    caller
        .post(
            app,
            "/v1/auth/reauthenticate/passkey/finish",
            json!({"credential": credential}),
        )
        .await
}

#[tokio::test]
async fn a_passkey_alone_steps_up_and_the_session_keeps_its_amr() {
    for backend in BOTH {
        let app = passkey_app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        crate::tenants::mark_verified(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &ada, &mut key, "Laptop").await;
        let org = ada.create_org(&app, "Keyed Co").await;
        let before = claims(&ada.token);
        outwait_the_window().await;
        create_key(&app, &ada, &org)
            .await
            .problem(401, "reauthentication_required");

        // The password alone is not enough for an account with a passkey, and a passkey
        // does not answer at the code route.
        assert_eq!(methods_asked(&app, &ada).await, json!(["passkey"]));
        let misrouted = reauthenticate(
            &app,
            &ada,
            json!({"password": PASSWORD, "method": "passkey", "code": "123456"}),
        )
        .await
        .problem(422, "validation_failed");
        assert_eq!(misrouted["errors"][0]["field"], "method");
        assert!(
            misrouted
                .to_string()
                .contains("/v1/auth/reauthenticate/passkey/start")
        );

        let options = ada
            .post(&app, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await
            .json();
        let request = &options["publicKey"];
        assert_eq!(request["userVerification"], "required", "{options}");
        let allowed = request["allowCredentials"].as_array().expect("allowed");
        assert_eq!(allowed.len(), 1, "{options}");
        let credential = key.get(ORIGIN, &options).await;
        let renewed = finish_passkey(&app, &ada, &credential).await;
        let stepped_up = renewed_caller(&ada, &renewed);
        let after = claims(&stepped_up.token);
        assert_eq!(after["sid"], before["sid"], "the same session");
        assert_eq!(after["amr"], before["amr"], "{backend:?}: amr kept");
        assert!(after["auth_time"].as_i64() > before["auth_time"].as_i64());
        assert_eq!(renewed.json()["token_type"], "Bearer");

        let created = create_key(&app, &stepped_up, &org).await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
        let changed = stepped_up
            .post(
                &app,
                "/v1/auth/password/change",
                json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
            )
            .await;
        assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());
        // The challenge was answered once.
        finish_passkey(&app, &ada, &credential)
            .await
            .problem(401, "passkey_refused");

        let steps = events_of(&app, "auth.step_up.succeeded").await;
        assert_eq!(steps.len(), 1, "{backend:?}");
        assert_eq!(steps[0]["payload"]["method"], "passkey");
        assert_eq!(steps[0]["payload"]["passkey_id"], passkey["id"]);
        assert_eq!(steps[0]["payload"]["session_id"], before["sid"]);
    }
}

#[tokio::test]
async fn only_the_callers_own_passkey_answers_their_step_up() {
    for backend in BOTH {
        let app = passkey_app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let bob = Caller::registered(&app, "bob@example.com").await;
        let (mut ada_key, mut bob_key) = (SoftKey::default(), SoftKey::default());
        add_passkey(&app, &ada, &mut ada_key, "Ada's").await;
        add_passkey(&app, &bob, &mut bob_key, "Bob's").await;

        // Ada's key answers Bob's challenge (a client that ignores `allowCredentials`).
        let mut options = bob
            .post(&app, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await
            .json();
        options["publicKey"]
            .as_object_mut()
            .expect("options")
            .remove("allowCredentials");
        let foreign = ada_key.get(ORIGIN, &options).await;
        finish_passkey(&app, &bob, &foreign)
            .await
            .problem(401, "passkey_refused");
        // Ada's answer to her own challenge does not step Bob up either.
        let options = ada
            .post(&app, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await
            .json();
        let ada_answer = ada_key.get(ORIGIN, &options).await;
        finish_passkey(&app, &bob, &ada_answer)
            .await
            .problem(401, "passkey_refused");
        // An answer to a sign-in ceremony is no step-up.
        let sign_in = login_start(&app).await;
        let signed = ada_key.get(ORIGIN, &sign_in).await;
        finish_passkey(&app, &ada, &signed)
            .await
            .problem(401, "passkey_refused");
        // Each refusal is a failed step-up of the caller's, with its reason, as a wrong
        // password or code is; none is a failed sign-in.
        let failed: Value = events_of(&app, "auth.step_up.failed")
            .await
            .iter()
            .map(|e| {
                json!([
                    e["actor_id"],
                    e["payload"]["failed"],
                    e["payload"]["reason"]
                ])
            })
            .collect();
        assert_eq!(
            failed,
            json!([
                [bob.user_id, "passkey", "unknown passkey"],
                [bob.user_id, "passkey", "no pending challenge"],
                [ada.user_id, "passkey", "no pending challenge"],
            ]),
            "{backend:?}"
        );
        assert!(
            events_of(&app, "auth.passkey.login.failed")
                .await
                .is_empty(),
            "{backend:?}"
        );
        assert!(events_of(&app, "auth.step_up.succeeded").await.is_empty());
        // Bob's own key still works, and malformed answers are bad input.
        let renewed = passkey_step_up(&app, &bob, &mut bob_key).await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());
        finish_passkey(&app, &bob, &json!({"id": "x"}))
            .await
            .problem(422, "validation_failed");

        // Without a passkey there is nothing to start; without passkeys, nothing at all.
        let carol = Caller::registered(&app, "carol@example.com").await;
        carol
            .post(&app, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await
            .problem(404, "mfa_not_enrolled");
        let plain = TestApp::new(backend).await;
        let dan = Caller::registered(&plain, "dan@example.com").await;
        dan.post(&plain, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await
            .problem(404, "passkeys_disabled");
    }
}

#[tokio::test]
async fn a_step_up_is_finished_only_in_the_session_that_started_it() {
    for backend in BOTH {
        let app = passkey_app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        crate::tenants::mark_verified(&app, "ada@example.com").await;
        // Another session of Ada's (another device, or a stolen token).
        let other = Caller::from_tokens(&login(&app, "ada@example.com", &[]).await);
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let org = ada.create_org(&app, "Keyed Co").await;
        outwait_the_window().await;

        let options = ada
            .post(&app, "/v1/auth/reauthenticate/passkey/start", json!({}))
            .await;
        assert_eq!(options.status, 200, "{}", options.text());
        let answer = key.get(ORIGIN, &options.json()).await;
        // Ada's own answer, brought to the other session: refused as no challenge of its.
        finish_passkey(&app, &other, &answer)
            .await
            .problem(401, "passkey_refused");
        let failed = events_of(&app, "auth.step_up.failed").await;
        assert_eq!(failed.len(), 1, "{backend:?}");
        assert_eq!(failed[0]["payload"]["reason"], "no pending challenge");
        assert!(events_of(&app, "auth.step_up.succeeded").await.is_empty());
        create_key(&app, &other, &org)
            .await
            .problem(401, "reauthentication_required");
        // The attempt spent the challenge, as any answer does; the session that asks
        // again steps up.
        finish_passkey(&app, &ada, &answer)
            .await
            .problem(401, "passkey_refused");
        let renewed = passkey_step_up(&app, &ada, &mut key).await;
        let stepped_up = renewed_caller(&ada, &renewed);
        let created = create_key(&app, &stepped_up, &org).await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
    }
}
