//! Passkeys a signed-in user manages, end to end on both backends: added (a real
//! registration ceremony), listed, renamed and removed — then signing in or not — and the
//! refusals: another user's passkey ids, bad input, guests, a server without passkeys, a
//! registration finished in another session than the one that started it. Removing a
//! passkey ends the sessions it opened.

use axum::http::Method;
use serde_json::json;

use crate::auth::{login, post};
use crate::helpers::{BOTH, TestApp};
use crate::passkeys::{
    ORIGIN, SoftKey, add_passkey, app, events_of, finish_registration, login_finish, login_start,
    password_step, registration_options, second_step_finish, second_step_options, sign_in,
};
use crate::tenants::Caller;

#[tokio::test]
async fn a_passkey_is_added_listed_renamed_and_signs_in_naming_no_account() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        let options = registration_options(&app, &ada).await;
        let public_key = &options["publicKey"];
        assert_eq!(public_key["rp"]["id"], "example.com");
        assert_eq!(public_key["user"]["name"], "ada@example.com");
        let selection = &public_key["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "{options}");
        assert_eq!(selection["userVerification"], "required", "{options}");
        let credential = key.create(ORIGIN, &options).await;
        let added = finish_registration(&app, &ada, "  Laptop ", &credential).await;
        assert_eq!(added.status, 201, "{}", added.text());
        let passkey = added.json();
        let id = passkey["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("pk_"), "{id}");
        assert_eq!(passkey["name"], "Laptop");
        assert!(passkey["last_used_at"].is_null());

        let list = ada.get(&app, "/v1/auth/passkeys").await;
        assert_eq!(list.status, 200, "{}", list.text());
        assert_eq!(list.json()["items"], json!([passkey]));

        let renamed = ada
            .call(
                &app,
                Method::PATCH,
                &format!("/v1/auth/passkeys/{id}"),
                Some(json!({"name": "Work laptop"})),
            )
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        assert_eq!(renamed.json()["name"], "Work laptop");

        let options = login_start(&app).await;
        let request = &options["publicKey"];
        assert!(
            request["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "{options}"
        );
        assert_eq!(request["userVerification"], "required");
        let assertion = key.get(ORIGIN, &options).await;
        let signed_in = login_finish(&app, &assertion).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text());
        let tokens = signed_in.json();
        assert_eq!(tokens["user"]["id"], ada.user_id.as_str());
        assert_eq!(tokens["token_type"], "Bearer");
        assert!(
            tokens["refresh_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );

        // The new session's token works, and says how it signed in (RFC 8176): a key the
        // authenticator may sync is software-secured, and user verification makes it MFA.
        let me = ada
            .with_token(tokens["access_token"].as_str().expect("token"))
            .get(&app, "/v1/auth/me")
            .await;
        assert_eq!(me.status, 200, "{}", me.text());
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json()["items"][0].clone();
        let key_kind = if listed["backup_eligible"] == true {
            "swk"
        } else {
            "hwk"
        };
        assert_eq!(me.json()["auth_methods"], json!([key_kind, "mfa"]));
        assert!(listed["last_used_at"].is_string(), "{listed}");

        let mail = app.queued_mail().await;
        let announced: Vec<_> = mail
            .iter()
            .filter(|m| m.to == "ada@example.com" && m.subject.contains("passkey"))
            .collect();
        assert_eq!(announced.len(), 1, "{mail:?}");
        assert!(
            announced[0].text.contains("Laptop"),
            "{}",
            announced[0].text
        );

        for event_type in [
            "auth.passkey.added",
            "auth.passkey.renamed",
            "auth.passkey.login.succeeded",
        ] {
            let events = events_of(&app, event_type).await;
            assert_eq!(events.len(), 1, "{event_type}");
            assert_eq!(
                events[0]["payload"]["passkey_id"],
                id.as_str(),
                "{event_type}"
            );
            assert_eq!(events[0]["actor_id"], ada.user_id.as_str(), "{}", events[0]);
        }
    }
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs_in_and_others_ids_are_not_found() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let bob = Caller::registered(&app, "bob@example.com").await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &ada, &mut key, "Laptop").await;
        let path = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));

        // Bob cannot see, rename or remove Ada's passkey.
        assert_eq!(
            bob.get(&app, "/v1/auth/passkeys").await.json()["items"],
            json!([])
        );
        bob.call(&app, Method::PATCH, &path, Some(json!({"name": "Mine"})))
            .await
            .problem(404, "passkey_not_found");
        bob.call(&app, Method::DELETE, &path, None)
            .await
            .problem(404, "passkey_not_found");
        assert_eq!(sign_in(&app, &mut key, ORIGIN).await.status, 200);

        let removed = ada.call(&app, Method::DELETE, &path, None).await;
        assert_eq!(removed.status, 204, "{}", removed.text());
        ada.call(&app, Method::DELETE, &path, None)
            .await
            .problem(404, "passkey_not_found");
        sign_in(&app, &mut key, ORIGIN)
            .await
            .problem(401, "passkey_refused");
        let removed = events_of(&app, "auth.passkey.removed").await;
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0]["payload"]["passkey_id"], passkey["id"]);
        let failed = events_of(&app, "auth.passkey.login.failed").await;
        assert_eq!(failed[0]["payload"]["reason"], "unknown passkey");

        ada.call(&app, Method::DELETE, "/v1/auth/passkeys/ses_1", None)
            .await
            .problem(422, "validation_failed");
    }
}

#[tokio::test]
async fn removing_a_passkey_ends_the_sessions_it_opened_and_no_other() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &ada, &mut key, "Laptop").await;
        // Opened by the passkey alone, and as the second step of a password sign-in.
        let alone = sign_in(&app, &mut key, ORIGIN).await;
        assert_eq!(alone.status, 200, "{}", alone.text());
        let mfa_token = password_step(&app, &[]).await;
        let options = second_step_options(&app, &mfa_token).await;
        let assertion = key.get(ORIGIN, &options).await;
        let second = second_step_finish(&app, &mfa_token, &assertion, &[]).await;
        assert_eq!(second.status, 200, "{}", second.text());
        let opened = [alone.json(), second.json()];
        // Each is read (and cached) now, so the revocation must evict to show.
        for tokens in &opened {
            let me = Caller::from_tokens(tokens).get(&app, "/v1/auth/me").await;
            assert_eq!(me.status, 200, "{}", me.text());
        }

        // Removed from the password session the account was registered in.
        let path = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));
        let removed = ada.call(&app, Method::DELETE, &path, None).await;
        assert_eq!(removed.status, 204, "{}", removed.text());
        for tokens in &opened {
            Caller::from_tokens(tokens)
                .get(&app, "/v1/auth/me")
                .await
                .assert_invalid_token();
            let refresh = json!({"refresh_token": tokens["refresh_token"]});
            post(&app, "/v1/auth/refresh", refresh, &[])
                .await
                .problem(401, "invalid_refresh_token");
        }
        assert_eq!(ada.get(&app, "/v1/auth/me").await.status, 200);
        let revoked = events_of(&app, "auth.session.revoked").await;
        assert_eq!(revoked.len(), 2, "{revoked:?}");
        for event in &revoked {
            assert_eq!(event["payload"]["reason"], "passkey removed");
        }
        let removed = events_of(&app, "auth.passkey.removed").await;
        let listed = removed[0]["payload"]["revoked_sessions"].as_array();
        assert_eq!(listed.map(Vec::len), Some(2), "{removed:?}");
    }
}

#[tokio::test]
async fn bad_input_guests_and_an_unconfigured_server_are_refused() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let invalid = ada
            .post(
                &app,
                "/v1/auth/passkeys/register/finish",
                json!({"name": " ", "credential": {"id": "x"}}),
            )
            .await;
        let problem = invalid.problem(422, "validation_failed");
        let fields: Vec<_> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field"))
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "credential.rawId",
                "credential.response",
                "credential.type"
            ]
        );
        login_finish(&app, &json!({"id": "x"}))
            .await
            .problem(422, "validation_failed");

        let guest = Caller::guest(&app).await;
        guest
            .post(&app, "/v1/auth/passkeys/register/start", json!({}))
            .await
            .problem(409, "guest_account");

        let plain = TestApp::new(backend).await;
        let carol = Caller::registered(&plain, "carol@example.com").await;
        post(&plain, "/v1/auth/passkeys/login/start", json!({}), &[])
            .await
            .problem(404, "passkeys_disabled");
        carol
            .get(&plain, "/v1/auth/passkeys")
            .await
            .problem(404, "passkeys_disabled");
    }
}

#[tokio::test]
async fn a_registration_is_finished_only_in_the_session_that_started_it() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        // Another session of Ada's, signed in as recently.
        let other = Caller::from_tokens(&login(&app, "ada@example.com", &[]).await);
        let options = registration_options(&app, &ada).await;
        let credential = SoftKey::default().create(ORIGIN, &options).await;
        let refused = finish_registration(&app, &other, "Elsewhere", &credential)
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["field"], "credential", "{backend:?}");
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json();
        assert_eq!(listed["items"], json!([]), "{backend:?}: nothing was added");
        // The session that started a registration finishes its own.
        add_passkey(&app, &ada, &mut SoftKey::default(), "Laptop").await;
    }
}
