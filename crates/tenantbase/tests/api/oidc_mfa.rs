//! A provider's sign-in against the account's own rules, on both backends: an account with
//! a second factor takes the second step after the exchange (a code or a passkey; trusted
//! devices skip it, as after a password), and unlinking an identity ends the sessions
//! opened through it — at once, refresh tokens included — and the second steps it has
//! under way.

use axum::http::Method;
use serde_json::{Value, json};
use tenantbase_core::identity::oidc::OidcPolicy;
use tenantbase_testkit::oidc_provider::{OidcProvider, ProviderUser};

use crate::auth::post;
use crate::auth_mfa::{enrol_totp, totp_code, verify};
use crate::helpers::{BOTH, Backend, Options, TestApp};
use crate::oidc::{
    app_with_provider, confirm, exchange_with, link_code, login_code, sign_in, with_provider,
};
use crate::passkeys::events_of;
use crate::passkeys::{ORIGIN, SoftKey, add_passkey, relying_party};
use crate::tenants::Caller;

const LAPTOP: [(&str, &str); 1] = [("x-device-id", "laptop")];

/// A provider sign-in of an account with a second factor, from `headers`' device: the
/// exchange's answer, checked to be a second step due and no session.
async fn second_step_due(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let code = login_code(app).await;
    let first = exchange_with(app, json!({"login_code": code}), headers).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(first["mfa_required"], true, "{first}");
    assert!(first.get("access_token").is_none(), "no session: {first}");
    // The answer used the login code up.
    let again = exchange_with(app, json!({"login_code": code}), headers)
        .await
        .problem(422, "validation_failed");
    assert_eq!(again["errors"][0]["field"], "login_code");
    first
}

/// An app with the test provider and whatever else `configure` sets.
pub(crate) async fn app_with_provider_and(
    backend: Backend,
    configure: impl FnOnce(&mut Options),
) -> (TestApp, OidcProvider) {
    let provider = OidcProvider::start().await;
    let oidc = with_provider(&provider, OidcPolicy::default());
    let app = TestApp::configured(backend, |options| {
        options.oidc = oidc;
        configure(options);
    })
    .await;
    (app, provider)
}

fn mfa_token(due: &Value) -> &str {
    due["mfa_token"].as_str().expect("mfa_token")
}

/// Ada, signed up through the provider and then given an authenticator app: her first
/// session (signed in at once, having no factor yet) and the app's secret.
async fn federated_with_totp(app: &TestApp, provider: &OidcProvider) -> (Caller, String) {
    provider.sign_in_as(ProviderUser::verified("sub-ada", "ada@example.com"));
    let tokens = sign_in(app).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    let ada = Caller::from_tokens(&tokens);
    let (secret, _) = enrol_totp(app, &ada).await;
    (ada, secret)
}

/// `GET /v1/auth/me` of a live session.
async fn me(app: &TestApp, who: &Caller) -> Value {
    let me = who.get(app, "/v1/auth/me").await;
    assert_eq!(me.status, 200, "{}", me.text());
    me.json()
}

async fn auth_methods(app: &TestApp, who: &Caller) -> Value {
    me(app, who).await["auth_methods"].clone()
}

#[tokio::test]
async fn a_provider_sign_in_still_needs_the_accounts_second_factor() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let (ada, secret) = federated_with_totp(&app, &provider).await;
        assert_eq!(auth_methods(&app, &ada).await, json!(["fed"]));

        let due = second_step_due(&app, &LAPTOP).await;
        assert_eq!(due["methods"], json!(["totp", "backup_code"]), "{due}");
        assert_eq!(due["expires_in"], 300);
        assert!(due.get("refresh_token").is_none(), "{due}");
        let token = mfa_token(&due);
        let sessions = ada.get(&app, "/v1/auth/sessions").await.json();
        assert_eq!(sessions["items"].as_array().map(Vec::len), Some(1));

        verify(&app, token, "totp", &totp_code(&secret, 5), &LAPTOP)
            .await
            .problem(401, "invalid_mfa_code");
        let passed = verify(&app, token, "totp", &totp_code(&secret, 0), &LAPTOP).await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let signed_in = Caller::from_tokens(&passed.json());
        assert_eq!(signed_in.user_id, ada.user_id);
        assert_eq!(
            auth_methods(&app, &signed_in).await,
            json!(["fed", "otp", "mfa"])
        );

        let required = events_of(&app, "auth.login.mfa_required").await;
        assert_eq!(required.len(), 1);
        assert_eq!(required[0]["payload"]["methods"], due["methods"]);
        assert_eq!(events_of(&app, "auth.mfa.verify.failed").await.len(), 1);
        let succeeded = events_of(&app, "auth.login.succeeded").await;
        assert_eq!(succeeded.len(), 1);
        assert_eq!(succeeded[0]["payload"]["amr"], json!(["fed", "otp", "mfa"]));
    }
}

#[tokio::test]
async fn a_passkey_passes_the_second_step_after_a_provider_sign_in() {
    for backend in BOTH {
        let (app, provider) = app_with_provider_and(backend, |options| {
            options.passkeys = Some(relying_party());
        })
        .await;
        provider.sign_in_as(ProviderUser::verified("sub-ada", "ada@example.com"));
        let ada = Caller::from_tokens(&sign_in(&app).await);
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Phone").await;

        let due = second_step_due(&app, &LAPTOP).await;
        assert_eq!(due["methods"], json!(["passkey"]), "{due}");
        let token = mfa_token(&due);
        let options = post(
            &app,
            "/v1/auth/mfa/passkey/start",
            json!({"mfa_token": token}),
            &LAPTOP,
        )
        .await;
        assert_eq!(options.status, 200, "{}", options.text());
        let assertion = key.get(ORIGIN, &options.json()).await;
        let body = json!({"mfa_token": token, "credential": assertion});
        let passed = post(&app, "/v1/auth/mfa/passkey/finish", body.clone(), &LAPTOP).await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let signed_in = Caller::from_tokens(&passed.json());
        assert_eq!(signed_in.user_id, ada.user_id);

        // The session says how: through the provider, then a key (synced or bound to its
        // device), two factors in all.
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json()["items"][0].clone();
        let key_kind = if listed["backup_eligible"] == true {
            "swk"
        } else {
            "hwk"
        };
        let amr = json!(["fed", key_kind, "mfa"]);
        assert_eq!(auth_methods(&app, &signed_in).await, amr, "{backend:?}");
        let succeeded = events_of(&app, "auth.login.succeeded").await;
        assert_eq!(succeeded.len(), 1, "{backend:?}");
        assert_eq!(succeeded[0]["payload"]["amr"], amr);
        // The mfa_token is spent.
        post(&app, "/v1/auth/mfa/passkey/finish", body, &LAPTOP)
            .await
            .problem(401, "invalid_mfa_token");
    }
}

#[tokio::test]
async fn a_trusted_device_skips_the_second_factor_after_a_provider_sign_in() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let (_, secret) = federated_with_totp(&app, &provider).await;
        let due = second_step_due(&app, &LAPTOP).await;
        let body = json!({"mfa_token": mfa_token(&due), "method": "totp",
            "code": totp_code(&secret, 0), "trust_device": true});
        let trusted = post(&app, "/v1/auth/mfa/verify", body, &LAPTOP).await;
        assert_eq!(trusted.status, 200, "{}", trusted.text());
        let device_token = trusted.json()["device_token"].clone();
        assert!(device_token.is_string(), "{device_token}");

        let body = json!({"login_code": login_code(&app).await, "device_token": device_token});
        let skipped = exchange_with(&app, body, &LAPTOP).await;
        assert_eq!(skipped.status, 200, "{}", skipped.text());
        let skipped = Caller::from_tokens(&skipped.json());
        assert_eq!(auth_methods(&app, &skipped).await, json!(["fed"]));

        // The trust is the laptop's: another device still takes the second step.
        let body = json!({"login_code": login_code(&app).await, "device_token": device_token});
        let elsewhere = exchange_with(&app, body, &[("x-device-id", "phone")]).await;
        assert_eq!(
            elsewhere.json()["mfa_required"],
            true,
            "{}",
            elsewhere.text()
        );
    }
}

#[tokio::test]
async fn unlinking_an_identity_ends_the_sessions_it_opened_and_no_other() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let owner = Caller::registered(&app, "owner@example.com").await;
        provider.sign_in_as(ProviderUser::verified("sub-owner", "owner@example.com"));
        let code = link_code(&app, &owner).await;
        let linked = confirm(&app, &owner, &code).await;
        assert_eq!(linked.status, 201, "{}", linked.text());
        let identity = linked.json()["id"].as_str().expect("id").to_owned();
        let (first, second) = (sign_in(&app).await, sign_in(&app).await);
        let via = [Caller::from_tokens(&first), Caller::from_tokens(&second)];
        // Each is read (and cached) now, so the revocation must evict to show.
        let mut opened = Vec::new();
        for session in &via {
            assert_eq!(session.user_id, owner.user_id);
            let id = me(&app, session).await["session_id"].clone();
            opened.push(id.as_str().expect("session id").to_owned());
        }

        let unused = login_code(&app).await;

        // Unlinked by one of those sessions: it ends with the other.
        let path = format!("/v1/auth/identities/{identity}");
        let unlinked = via[0].call(&app, Method::DELETE, &path, None).await;
        assert_eq!(unlinked.status, 204, "{}", unlinked.text());
        // A sign-in through the identity that had not been exchanged yet opens nothing.
        let late = exchange_with(&app, json!({"login_code": unused}), &[])
            .await
            .problem(422, "validation_failed");
        assert_eq!(late["errors"][0]["field"], "login_code");
        for session in &via {
            session
                .get(&app, "/v1/auth/me")
                .await
                .problem(401, "invalid_token");
        }
        let refresh = json!({"refresh_token": second["refresh_token"]});
        post(&app, "/v1/auth/refresh", refresh, &[])
            .await
            .problem(401, "invalid_refresh_token");
        assert_eq!(auth_methods(&app, &owner).await, json!(["pwd"]));

        let events = events_of(&app, "auth.identity.unlinked").await;
        assert_eq!(events.len(), 1);
        let mut revoked: Vec<String> =
            serde_json::from_value(events[0]["payload"]["revoked_sessions"].clone())
                .expect("session ids");
        revoked.sort();
        opened.sort();
        assert_eq!(revoked, opened);
    }
}

#[tokio::test]
async fn unlinking_an_identity_ends_its_two_step_sessions_and_second_steps_under_way() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let owner = Caller::registered(&app, "owner@example.com").await;
        let (secret, codes) = enrol_totp(&app, &owner).await;
        provider.sign_in_as(ProviderUser::verified("sub-owner", "owner@example.com"));
        let code = link_code(&app, &owner).await;
        let linked = confirm(&app, &owner, &code).await;
        assert_eq!(linked.status, 201, "{}", linked.text());
        let identity = linked.json()["id"].as_str().expect("id").to_owned();

        let due = second_step_due(&app, &LAPTOP).await;
        let passed = verify(
            &app,
            mfa_token(&due),
            "totp",
            &totp_code(&secret, 0),
            &LAPTOP,
        )
        .await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let two_step = Caller::from_tokens(&passed.json());
        assert_eq!(
            auth_methods(&app, &two_step).await,
            json!(["fed", "otp", "mfa"])
        );
        let pending = second_step_due(&app, &LAPTOP).await;

        let path = format!("/v1/auth/identities/{identity}");
        let unlinked = owner.call(&app, Method::DELETE, &path, None).await;
        assert_eq!(unlinked.status, 204, "{}", unlinked.text());
        two_step
            .get(&app, "/v1/auth/me")
            .await
            .problem(401, "invalid_token");
        // The second step of a sign-in through the identity no longer opens anything.
        verify(&app, mfa_token(&pending), "backup_code", &codes[0], &LAPTOP)
            .await
            .problem(401, "invalid_mfa_token");
        assert_eq!(auth_methods(&app, &owner).await, json!(["pwd"]));
    }
}
