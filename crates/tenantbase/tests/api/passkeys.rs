//! What the passkey tests share: real WebAuthn ceremonies between the server
//! (`webauthn-rs`) and a software client and authenticator (1Password's `passkey` crates:
//! ES256 keys, discoverable credentials, signature counters), and the requests that run
//! them. The tests are by subject: `passkeys_manage` (add, list, rename, remove),
//! `passkeys_sign_in` (signing in, either step, and every refusal) and `passkeys_step_up`.

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
use crate::helpers::{Backend, TestApp, TestResponse};
use crate::tenants::Caller;

/// Where the app's pages run: the only origin the relying party allows.
pub(crate) const ORIGIN: &str = "https://app.example.com";

/// The relying party of the passkey tests: `example.com`, allowing `ORIGIN` only.
pub(crate) fn relying_party() -> RelyingParty {
    RelyingParty::new("example.com", "Example", &[ORIGIN.to_owned()]).expect("relying party")
}

/// An app with passkeys for `relying_party()`.
pub(crate) async fn app(backend: Backend) -> TestApp {
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
    pub async fn create(&mut self, origin: &str, options: &Value) -> Value {
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

/// Starts a registration for `caller`: the creation options.
pub(crate) async fn registration_options(app: &TestApp, caller: &Caller) -> Value {
    let options = caller
        .post(app, "/v1/auth/passkeys/register/start", json!({}))
        .await;
    assert_eq!(options.status, 200, "{}", options.text());
    options.json()
}

/// Finishes a registration of `caller` with `credential`, naming the passkey `name`.
pub(crate) async fn finish_registration(
    app: &TestApp,
    caller: &Caller,
    name: &str,
    credential: &Value,
) -> TestResponse {
    caller
        .post(
            app,
            "/v1/auth/passkeys/register/finish",
            json!({"name": name, "credential": credential}),
        )
        .await
}

/// Adds a passkey named `name` made by `key` to `caller`'s account; returns it.
pub(crate) async fn add_passkey(
    app: &TestApp,
    caller: &Caller,
    key: &mut SoftKey,
    name: &str,
) -> Value {
    let options = registration_options(app, caller).await;
    let credential = key.create(ORIGIN, &options).await;
    let added = finish_registration(app, caller, name, &credential).await;
    assert_eq!(added.status, 201, "{}", added.text());
    added.json()
}

/// Runs a usernameless sign-in with `key` answering at `origin`.
pub(crate) async fn sign_in(app: &TestApp, key: &mut SoftKey, origin: &str) -> TestResponse {
    let options = login_start(app).await;
    let credential = key.get(origin, &options).await;
    login_finish(app, &credential).await
}

pub(crate) async fn login_start(app: &TestApp) -> Value {
    let options = post(app, "/v1/auth/passkeys/login/start", json!({}), &[]).await;
    assert_eq!(options.status, 200, "{}", options.text());
    options.json()
}

pub(crate) async fn login_finish(app: &TestApp, credential: &Value) -> TestResponse {
    post(
        app,
        "/v1/auth/passkeys/login/finish",
        json!({"credential": credential}),
        &[],
    )
    .await
}

/// Makes every pending ceremony older than its 5 minutes.
pub(crate) async fn expire_ceremonies(app: &TestApp) {
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

/// A password first step for `ada@example.com`, whose account has a passkey: the
/// `mfa_token`.
pub(crate) async fn password_step(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    let first = post(app, "/v1/auth/login", body, headers).await;
    assert_eq!(first.status, 200, "{}", first.text());
    first.json()["mfa_token"]
        .as_str()
        .expect("mfa_token")
        .to_owned()
}

/// Starts a passkey second step with `mfa_token`: the request options.
pub(crate) async fn second_step_options(app: &TestApp, mfa_token: &str) -> Value {
    let options = second_step_start(app, mfa_token, &[]).await;
    assert_eq!(options.status, 200, "{}", options.text());
    options.json()
}

pub(crate) async fn second_step_start(
    app: &TestApp,
    mfa_token: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let body = json!({"mfa_token": mfa_token});
    post(app, "/v1/auth/mfa/passkey/start", body, headers).await
}

pub(crate) async fn second_step_finish(
    app: &TestApp,
    mfa_token: &str,
    credential: &Value,
    headers: &[(&str, &str)],
) -> TestResponse {
    let body = json!({"mfa_token": mfa_token, "credential": credential});
    post(app, "/v1/auth/mfa/passkey/finish", body, headers).await
}
