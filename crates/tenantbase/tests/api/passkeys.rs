//! Passkeys end to end through the API, on both backends: real WebAuthn ceremonies
//! between the server (`webauthn-rs`) and a software client and authenticator (1Password's
//! `passkey` crates: ES256 keys, discoverable credentials, signature counters) — add,
//! list, rename, sign in naming no account, and every refusal: wrong origin, a challenge
//! answered twice, an expired ceremony, a removed passkey, a cloned authenticator, another
//! user's passkey id — and a passkey as the second step of a password sign-in.

use axum::http::Method;
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use serde_json::{Value, json};
use tenantbase_core::identity::passkeys::RelyingParty;
use url::Url;

use crate::auth::{PASSWORD, post};
use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::tenants::Caller;

/// Where the app's pages run: the only origin the relying party allows.
pub(crate) const ORIGIN: &str = "https://app.example.com";

/// The relying party of the passkey tests: `example.com`, allowing `ORIGIN` only.
pub(crate) fn relying_party() -> RelyingParty {
    RelyingParty::new("example.com", "Example", &[ORIGIN.to_owned()]).expect("relying party")
}

async fn app(backend: Backend) -> TestApp {
    TestApp::with_passkeys(backend, relying_party()).await
}

/// A software authenticator holding one discoverable credential, behind a WebAuthn
/// client (which writes the client data, checks the relying party id against the
/// origin, and speaks the browsers' JSON). Cloning it clones the key and its counter.
#[derive(Clone, Default)]
pub(crate) struct SoftKey {
    credential: Option<Passkey>,
}

/// Says yes, with user verification, to everything: the person at the device.
struct ConsentingUser;

#[async_trait::async_trait]
impl UserValidationMethod for ConsentingUser {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

impl SoftKey {
    fn authenticator(&self) -> Authenticator<Option<Passkey>, ConsentingUser, RustCryptoBackend> {
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            self.credential.clone(),
            ConsentingUser,
            RustCryptoBackend,
        );
        authenticator.set_make_credentials_with_signature_counter(true);
        authenticator
    }

    /// `navigator.credentials.create(options)` at `origin`, as JSON for the server.
    async fn create(&mut self, origin: &str, options: &Value) -> Value {
        let options: CredentialCreationOptions =
            serde_json::from_value(options.clone()).expect("creation options");
        let mut client = Client::new(self.authenticator());
        let created = client
            .register(
                &Url::parse(origin).expect("origin"),
                options,
                DefaultClientData,
            )
            .await
            .expect("the authenticator creates a credential");
        self.credential = client.authenticator().store().clone();
        serde_json::to_value(created).expect("credential JSON")
    }

    /// `navigator.credentials.get(options)` at `origin`, as JSON for the server.
    pub async fn get(&mut self, origin: &str, options: &Value) -> Value {
        let options: CredentialRequestOptions =
            serde_json::from_value(options.clone()).expect("request options");
        let mut client = Client::new(self.authenticator());
        let assertion = client
            .authenticate(
                &Url::parse(origin).expect("origin"),
                options,
                DefaultClientData,
            )
            .await
            .expect("the authenticator signs");
        self.credential = client.authenticator().store().clone();
        serde_json::to_value(assertion).expect("assertion JSON")
    }
}

/// Adds a passkey named `name` made by `key` to `caller`'s account; returns it.
pub(crate) async fn add_passkey(
    app: &TestApp,
    caller: &Caller,
    key: &mut SoftKey,
    name: &str,
) -> Value {
    let options = caller
        .post(app, "/v1/auth/passkeys/register/start", json!({}))
        .await;
    assert_eq!(options.status, 200, "{}", options.text());
    let credential = key.create(ORIGIN, &options.json()).await;
    let added = caller
        .post(
            app,
            "/v1/auth/passkeys/register/finish",
            json!({"name": name, "credential": credential}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text());
    added.json()
}

/// Runs a usernameless sign-in with `key` answering at `origin`.
async fn sign_in(app: &TestApp, key: &mut SoftKey, origin: &str) -> TestResponse {
    let options = login_start(app).await;
    let credential = key.get(origin, &options).await;
    login_finish(app, &credential).await
}

pub(crate) async fn login_start(app: &TestApp) -> Value {
    let options = post(app, "/v1/auth/passkeys/login/start", json!({}), &[]).await;
    assert_eq!(options.status, 200, "{}", options.text());
    options.json()
}

async fn login_finish(app: &TestApp, credential: &Value) -> TestResponse {
    post(
        app,
        "/v1/auth/passkeys/login/finish",
        json!({"credential": credential}),
        &[],
    )
    .await
}

/// Makes every pending ceremony older than its 5 minutes.
async fn expire_ceremonies(app: &TestApp) {
    let sql = "UPDATE webauthn_ceremonies SET expires_at = created_at";
    assert!(app.execute_sql(sql).await > 0, "no ceremony was pending");
}

/// The platform events of `event_type`, oldest first, with their payloads parsed.
pub(crate) async fn events_of(app: &TestApp, event_type: &str) -> Vec<Value> {
    app.platform_events()
        .await
        .into_iter()
        .filter(|event| event["event_type"] == event_type)
        .map(|mut event| {
            let payload = event["payload"].as_str().expect("payload text");
            event["payload"] = serde_json::from_str(payload).expect("payload JSON");
            event
        })
        .collect()
}

#[tokio::test]
async fn a_passkey_is_added_listed_renamed_and_signs_in_naming_no_account() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        let options = ada
            .post(&app, "/v1/auth/passkeys/register/start", json!({}))
            .await
            .json();
        let public_key = &options["publicKey"];
        assert_eq!(public_key["rp"]["id"], "example.com");
        assert_eq!(public_key["user"]["name"], "ada@example.com");
        let selection = &public_key["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "{options}");
        assert_eq!(selection["userVerification"], "required", "{options}");
        let credential = key.create(ORIGIN, &options).await;
        let added = ada
            .post(
                &app,
                "/v1/auth/passkeys/register/finish",
                json!({"name": "  Laptop ", "credential": credential}),
            )
            .await;
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
async fn an_answer_from_another_origin_is_refused() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        // The relying party id fits the origin, so the client goes ahead; the server
        // allows one origin only.
        let options = ada
            .post(&app, "/v1/auth/passkeys/register/start", json!({}))
            .await
            .json();
        let credential = key.create("https://evil.example.com", &options).await;
        let refused = ada
            .post(
                &app,
                "/v1/auth/passkeys/register/finish",
                json!({"name": "Laptop", "credential": credential}),
            )
            .await;
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

        let options = ada
            .post(&app, "/v1/auth/passkeys/register/start", json!({}))
            .await
            .json();
        let credential = key.create(ORIGIN, &options).await;
        let body = json!({"name": "Laptop", "credential": credential});
        let first = ada
            .post(&app, "/v1/auth/passkeys/register/finish", body.clone())
            .await;
        assert_eq!(first.status, 201, "{}", first.text());
        let replayed = ada
            .post(&app, "/v1/auth/passkeys/register/finish", body)
            .await;
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

        let options = ada
            .post(&app, "/v1/auth/passkeys/register/start", json!({}))
            .await
            .json();
        assert_eq!(options["publicKey"]["timeout"], 300_000);
        let credential = key.create(ORIGIN, &options).await;
        expire_ceremonies(&app).await;
        let late = ada
            .post(
                &app,
                "/v1/auth/passkeys/register/finish",
                json!({"name": "Laptop", "credential": credential}),
            )
            .await;
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
        assert_eq!(fields, ["name", "credential"]);
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
