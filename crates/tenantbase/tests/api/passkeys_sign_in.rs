//! Signing in with a passkey, end to end on both backends: every refusal of an answer —
//! another origin, a challenge answered twice, an expired ceremony, a cloned
//! authenticator — audited with its reason, and a passkey as the second step of a
//! password sign-in, bound to the `mfa_token` that started it and to that token's device.

use serde_json::json;

use crate::auth::{PASSWORD, post};
use crate::helpers::BOTH;
use crate::passkeys::{
    ORIGIN, SoftKey, add_passkey, app, events_of, expire_ceremonies, finish_registration,
    login_finish, login_start, password_step, registration_options, second_step_finish,
    second_step_options, second_step_start, sign_in,
};
use crate::tenants::Caller;

#[tokio::test]
async fn an_answer_from_another_origin_is_refused() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        // The relying party id fits the origin, so the client goes ahead; the server
        // allows one origin only.
        let options = registration_options(&app, &ada).await;
        let credential = key.create("https://evil.example.com", &options).await;
        let refused = finish_registration(&app, &ada, "Laptop", &credential).await;
        let problem = refused.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "credential", "{problem}");
        assert!(
            ada.get(&app, "/v1/auth/passkeys").await.json()["items"]
                .as_array()
                .is_some_and(Vec::is_empty)
        );

        add_passkey(&app, &ada, &mut key, "Laptop").await;
        sign_in(&app, &mut key, "https://evil.example.com")
            .await
            .problem(401, "passkey_refused");
        let failed = events_of(&app, "auth.passkey.login.failed").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["payload"]["reason"], "origin not allowed");
        assert_eq!(failed[0]["actor_id"], ada.user_id.as_str());
        assert_eq!(sign_in(&app, &mut key, ORIGIN).await.status, 200);
    }
}

#[tokio::test]
async fn a_challenge_is_answered_once() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        let options = registration_options(&app, &ada).await;
        let credential = key.create(ORIGIN, &options).await;
        let first = finish_registration(&app, &ada, "Laptop", &credential).await;
        assert_eq!(first.status, 201, "{}", first.text());
        let replayed = finish_registration(&app, &ada, "Laptop", &credential).await;
        let problem = replayed.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "credential");

        let options = login_start(&app).await;
        let assertion = key.get(ORIGIN, &options).await;
        assert_eq!(login_finish(&app, &assertion).await.status, 200);
        login_finish(&app, &assertion)
            .await
            .problem(401, "passkey_refused");
        let failed = events_of(&app, "auth.passkey.login.failed").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["payload"]["reason"], "no pending challenge");
    }
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        let options = registration_options(&app, &ada).await;
        assert_eq!(options["publicKey"]["timeout"], 300_000);
        let credential = key.create(ORIGIN, &options).await;
        expire_ceremonies(&app).await;
        let late = finish_registration(&app, &ada, "Laptop", &credential).await;
        let problem = late.problem(422, "validation_failed");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("5 minutes")),
            "{problem}"
        );

        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let options = login_start(&app).await;
        let assertion = key.get(ORIGIN, &options).await;
        expire_ceremonies(&app).await;
        login_finish(&app, &assertion)
            .await
            .problem(401, "passkey_refused");
    }
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_by_its_counter() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let mut clone = key.clone();

        assert_eq!(sign_in(&app, &mut key, ORIGIN).await.status, 200);
        // The clone signs with the counter the original just used.
        sign_in(&app, &mut clone, ORIGIN)
            .await
            .problem(401, "passkey_refused");
        let failed = events_of(&app, "auth.passkey.login.failed").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0]["payload"]["reason"],
            "signature counter did not increase"
        );
        assert_eq!(sign_in(&app, &mut key, ORIGIN).await.status, 200);
    }
}

#[tokio::test]
async fn a_passkey_passes_the_second_step_of_a_password_sign_in() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;

        let first = post(
            &app,
            "/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
            &[],
        )
        .await;
        assert_eq!(first.status, 200, "{}", first.text());
        let first = first.json();
        assert_eq!(first["mfa_required"], true, "{first}");
        assert_eq!(first["methods"], json!(["passkey"]));
        let mfa_token = first["mfa_token"].as_str().expect("mfa_token");

        // A code route refuses the method, naming the routes that take it.
        let refused = post(
            &app,
            "/v1/auth/mfa/verify",
            json!({"mfa_token": mfa_token, "method": "passkey", "code": "123456"}),
            &[],
        )
        .await
        .problem(422, "validation_failed");
        assert!(
            refused.to_string().contains("/v1/auth/mfa/passkey/start"),
            "{refused}"
        );
        post(
            &app,
            "/v1/auth/mfa/passkey/start",
            json!({"mfa_token": "not-the-token"}),
            &[],
        )
        .await
        .problem(401, "invalid_mfa_token");
        let options = post(
            &app,
            "/v1/auth/mfa/passkey/start",
            json!({"mfa_token": mfa_token}),
            &[],
        )
        .await;
        assert_eq!(options.status, 200, "{}", options.text());
        let options = options.json();
        let allowed = options["publicKey"]["allowCredentials"]
            .as_array()
            .expect("allowCredentials");
        assert_eq!(allowed.len(), 1, "{options}");
        let assertion = key.get(ORIGIN, &options).await;
        let body = json!({"mfa_token": mfa_token, "credential": assertion});
        let signed_in = post(&app, "/v1/auth/mfa/passkey/finish", body.clone(), &[]).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text());
        let token = signed_in.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let me = ada.with_token(&token).get(&app, "/v1/auth/me").await.json();
        let methods = me["auth_methods"].as_array().expect("amr");
        assert_eq!(methods.len(), 3, "{me}");
        assert_eq!(methods[0], "pwd");
        assert!(methods[1] == "hwk" || methods[1] == "swk", "{me}");
        assert_eq!(methods[2], "mfa");

        // The mfa_token and the challenge are spent.
        post(&app, "/v1/auth/mfa/passkey/finish", body, &[])
            .await
            .problem(401, "invalid_mfa_token");
        let steps = events_of(&app, "auth.passkey.login.succeeded").await;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0]["payload"]["step"], "second_factor");
    }
}

#[tokio::test]
async fn a_second_step_is_finished_only_with_the_mfa_token_that_started_it() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let token_a = password_step(&app, &[]).await;
        let token_b = password_step(&app, &[]).await;

        let options = second_step_options(&app, &token_a).await;
        let assertion = key.get(ORIGIN, &options).await;
        second_step_finish(&app, &token_b, &assertion, &[])
            .await
            .problem(401, "passkey_refused");
        // The attempt spent the ceremony: its own token cannot finish it now either.
        second_step_finish(&app, &token_a, &assertion, &[])
            .await
            .problem(401, "passkey_refused");
        assert!(
            events_of(&app, "auth.passkey.login.succeeded")
                .await
                .is_empty()
        );

        // Token B was not used up: a ceremony of its own finishes its sign-in.
        let options = second_step_options(&app, &token_b).await;
        let assertion = key.get(ORIGIN, &options).await;
        let signed_in = second_step_finish(&app, &token_b, &assertion, &[]).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    }
}

#[tokio::test]
async fn a_second_step_bound_to_a_device_is_refused_elsewhere_and_records_nothing() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let laptop = [("x-device-id", "laptop")];
        let token = password_step(&app, &laptop).await;
        let mut clone = key.clone();
        let elsewhere: [&[(&str, &str)]; 2] = [&[("x-device-id", "phone")], &[]];

        // Another device learns nothing of the account's passkeys…
        for headers in elsewhere {
            second_step_start(&app, &token, headers)
                .await
                .problem(401, "invalid_mfa_token");
        }
        // …and a passing answer sent from there records nothing, and spends nothing.
        let options = second_step_start(&app, &token, &laptop).await;
        assert_eq!(options.status, 200, "{}", options.text());
        let options = options.json();
        let assertion = key.get(ORIGIN, &options).await;
        for headers in elsewhere {
            second_step_finish(&app, &token, &assertion, headers)
                .await
                .problem(401, "invalid_mfa_token");
        }
        assert!(
            events_of(&app, "auth.passkey.login.succeeded")
                .await
                .is_empty()
        );

        // The ceremony still waits, and the stored counter did not move: the clone, one
        // use behind the key, answers it from the laptop.
        let assertion = clone.get(ORIGIN, &options).await;
        let signed_in = second_step_finish(&app, &token, &assertion, &laptop).await;
        assert_eq!(signed_in.status, 200, "{backend:?}: {}", signed_in.text());
        assert_eq!(
            events_of(&app, "auth.passkey.login.succeeded").await.len(),
            1
        );
    }
}
