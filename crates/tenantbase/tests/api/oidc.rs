//! Sign-in with an OpenID provider, end to end through the API on both backends, against
//! the testkit's provider on loopback: the browser's part (following the redirects) is
//! played by the test. Every refusal is checked for its problem code, and that it left
//! nothing behind.

use reqwest::Url;
use serde_json::{Value, json};
use tenantbase_core::identity::oidc::{OidcPolicy, ProviderConfig};
use tenantbase_testkit::oidc_provider::{
    CLIENT_ID, CLIENT_SECRET, OidcProvider, ProviderUser, Tamper,
};

use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::passkeys::events_of;
use crate::tenants::Caller;

/// The app page flows return to.
pub(crate) const APP_PAGE: &str = "https://app.example.com/signed-in";

pub(crate) async fn app_with_provider(backend: Backend) -> (TestApp, OidcProvider) {
    app_with_policy(backend, OidcPolicy::default()).await
}

/// `policy` with the test provider added.
pub(crate) async fn app_with_policy(
    backend: Backend,
    policy: OidcPolicy,
) -> (TestApp, OidcProvider) {
    let provider = OidcProvider::start().await;
    let policy = with_provider(&provider, policy);
    (TestApp::with_oidc(backend, policy).await, provider)
}

/// `policy` with `provider` added as `test`, returning to `APP_PAGE`.
pub(crate) fn with_provider(provider: &OidcProvider, policy: OidcPolicy) -> OidcPolicy {
    let config = ProviderConfig {
        name: "test".to_owned(),
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.into(),
        scopes: vec!["email".to_owned(), "profile".to_owned()],
        claims: Default::default(),
        redirect_uris: vec![APP_PAGE.to_owned()],
        require_code_challenge: false,
    };
    OidcPolicy {
        providers: vec![config],
        ..policy
    }
}

pub(crate) fn location(response: &TestResponse) -> Url {
    assert_eq!(response.status, 302, "{}", response.text());
    Url::parse(response.header("location").expect("location")).expect("a URL")
}

pub(crate) fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

pub(crate) fn start_path(redirect_uri: &str) -> String {
    let query: String = url_query(&[("redirect_uri", redirect_uri)]);
    format!("/v1/auth/oidc/test/start?{query}")
}

pub(crate) fn url_query(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://x/").expect("url");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// The browser at the provider: consents, and comes back with the callback's path and
/// query (on our API).
pub(crate) async fn consent(authorization_url: &Url) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = browser
        .get(authorization_url.clone())
        .send()
        .await
        .expect("provider answers");
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let back = Url::parse(answer.headers()["location"].to_str().expect("text")).expect("URL");
    format!("{}?{}", back.path(), back.query().unwrap_or_default())
}

/// Start and consent: the callback to call, not yet called.
async fn started_callback(app: &TestApp) -> String {
    let started = app.get(&start_path(APP_PAGE)).await;
    consent(&location(&started)).await
}

/// A whole sign-in up to the callback's answer.
pub(crate) async fn through_callback(app: &TestApp) -> TestResponse {
    let callback = started_callback(app).await;
    app.get(&callback).await
}

async fn exchange(app: &TestApp, login_code: &str) -> TestResponse {
    exchange_with(app, json!({"login_code": login_code}), &[]).await
}

/// The exchange with `body` (the login code and whatever else), from `headers`' device.
pub(crate) async fn exchange_with(
    app: &TestApp,
    body: Value,
    headers: &[(&str, &str)],
) -> TestResponse {
    crate::auth::post(app, "/v1/auth/oidc/exchange", body, headers).await
}

/// A whole sign-in up to the browser's return to the app: the login code it brings.
pub(crate) async fn login_code(app: &TestApp) -> String {
    let back = location(&through_callback(app).await);
    assert!(back.as_str().starts_with(APP_PAGE), "{back}");
    query_param(&back, "login_code").expect("login_code")
}

/// A whole sign-in: the token pair.
pub(crate) async fn sign_in(app: &TestApp) -> Value {
    let code = login_code(app).await;
    let exchanged = exchange(app, &code).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text());
    exchanged.json()
}

pub(crate) fn caller(tokens: &Value) -> Caller {
    Caller {
        token: tokens["access_token"].as_str().expect("token").to_owned(),
        user_id: tokens["user"]["id"].as_str().expect("user").to_owned(),
    }
}

/// A linking flow started by `who`, through the provider's consent and our callback: the
/// `link_code` the browser comes back with (nothing is linked yet).
pub(crate) async fn link_code(app: &TestApp, who: &Caller) -> String {
    let started = who
        .post(
            app,
            "/v1/auth/identities/link",
            json!({"provider": "test", "redirect_uri": APP_PAGE}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text());
    let url = Url::parse(started.json()["authorization_url"].as_str().expect("url")).expect("url");
    let back = location(&app.get(&consent(&url).await).await);
    assert!(back.as_str().starts_with(APP_PAGE), "{back}");
    assert_eq!(query_param(&back, "identity_id"), None);
    query_param(&back, "link_code").expect("link_code")
}

pub(crate) async fn confirm(app: &TestApp, who: &Caller, link_code: &str) -> TestResponse {
    who.post(
        app,
        "/v1/auth/identities/link/confirm",
        json!({"link_code": link_code}),
    )
    .await
}

#[tokio::test]
async fn signs_up_then_in_through_a_provider_with_a_one_time_login_code() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-ada", "Ada@Example.com"));

        let listed = app.get("/v1/auth/oidc/providers").await;
        assert_eq!(listed.json()["items"], json!([{"name": "test"}]));

        let started = app.get(&start_path(APP_PAGE)).await;
        assert_eq!(started.header("cache-control"), Some("no-store"));
        let authorize = location(&started);
        assert!(authorize.as_str().starts_with(&provider.issuer));
        for (name, expected) in [
            ("response_type", Some("code")),
            ("client_id", Some(CLIENT_ID)),
            ("code_challenge_method", Some("S256")),
        ] {
            assert_eq!(query_param(&authorize, name).as_deref(), expected, "{name}");
        }
        for name in ["state", "nonce", "code_challenge"] {
            assert!(
                query_param(&authorize, name).is_some_and(|v| v.len() >= 43),
                "{name}"
            );
        }
        assert!(query_param(&authorize, "scope").is_some_and(|s| s.contains("openid")));

        let callback = consent(&authorize).await;
        let back = location(&app.get(&callback).await);
        assert!(back.as_str().starts_with(APP_PAGE), "{back}");
        let code = query_param(&back, "login_code").expect("login_code");
        let first = exchange(&app, &code).await;
        assert_eq!(first.status, 200, "{}", first.text());
        let tokens = first.json();
        assert_eq!(tokens["user"]["email"], "ada@example.com");
        assert_eq!(tokens["user"]["email_verified"], true);
        assert_eq!(tokens["user"]["display_name"], "User sub-ada");
        let ada = caller(&tokens);
        let me = ada.get(&app, "/v1/auth/me").await;
        assert_eq!(me.json()["auth_methods"], json!(["fed"]));
        // An account's first session has no earlier device to be new beside.
        let mailed = app.queued_mail().await;
        assert!(
            mailed.iter().all(|m| !m.subject.contains("New sign-in")),
            "{backend:?}: {mailed:?}"
        );

        // The code and the state are single use.
        let again = exchange(&app, &code)
            .await
            .problem(422, "validation_failed");
        assert_eq!(again["errors"][0]["field"], "login_code");
        let replayed = app.get(&callback).await.problem(422, "validation_failed");
        assert_eq!(replayed["errors"][0]["field"], "state");

        // Signing in again finds the identity's account.
        let second = sign_in(&app).await;
        assert_eq!(second["user"]["id"], tokens["user"]["id"]);
        let identities = ada.get(&app, "/v1/auth/identities").await.json();
        assert_eq!(identities["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(identities["items"][0]["provider"], "test");
        assert_eq!(identities["items"][0]["email"], "Ada@Example.com");

        let logins = events_of(&app, "auth.oidc.login.succeeded").await;
        let created: Vec<&Value> = logins
            .iter()
            .map(|e| &e["payload"]["account_created"])
            .collect();
        assert_eq!(created, [&json!(true), &json!(false)]);
        assert_eq!(events_of(&app, "auth.identity.linked").await.len(), 1);
    }
}

#[tokio::test]
async fn a_login_code_bound_to_the_app_needs_the_apps_verifier() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        let verifier = "a-verifier-the-app-keeps-in-its-own-storage-0123";
        let challenge = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let bound_start = format!(
            "/v1/auth/oidc/test/start?{}",
            url_query(&[("redirect_uri", APP_PAGE), ("code_challenge", &challenge)])
        );
        let started = app.get(&bound_start).await;
        let back = location(&app.get(&consent(&location(&started)).await).await);
        let code = query_param(&back, "login_code").expect("login_code");

        // Planted elsewhere (no verifier) or guessed, the code finds nothing.
        let planted = exchange(&app, &code)
            .await
            .problem(422, "validation_failed");
        assert_eq!(planted["errors"][0]["field"], "login_code");
        let wrong = json!({"login_code": code, "code_verifier": "not-the-verifier-of-this-challenge-at-all"});
        crate::auth::post(&app, "/v1/auth/oidc/exchange", wrong, &[])
            .await
            .problem(422, "validation_failed");
        let right = json!({"login_code": code, "code_verifier": verifier});
        let signed_in = crate::auth::post(&app, "/v1/auth/oidc/exchange", right, &[]).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text());

        // Every invalid field of a start is listed.
        let both = format!(
            "/v1/auth/oidc/test/start?{}",
            url_query(&[
                ("redirect_uri", "https://evil.example.com/"),
                ("code_challenge", "short")
            ])
        );
        let fields = |problem: &Value| -> Vec<Value> {
            let errors = problem["errors"].as_array().expect("errors");
            errors.iter().map(|e| e["field"].clone()).collect()
        };
        let refused = app.get(&both).await.problem(422, "validation_failed");
        assert_eq!(
            fields(&refused),
            [json!("redirect_uri"), json!("code_challenge")]
        );
        // The absent required parameter is named, not the one that is there.
        let only_challenge = "/v1/auth/oidc/test/start?code_challenge=abc";
        let missing = app
            .get(only_challenge)
            .await
            .problem(422, "validation_failed");
        assert_eq!(fields(&missing), [json!("redirect_uri")], "{missing}");
    }
}

#[tokio::test]
async fn refuses_bad_states_unknown_providers_and_foreign_redirects() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        let forged = format!(
            "/v1/auth/oidc/test/callback?{}",
            url_query(&[("code", "anything"), ("state", "a-state-we-never-issued")])
        );
        let refused = app.get(&forged).await.problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["field"], "state");
        app.get("/v1/auth/oidc/test/callback?code=x")
            .await
            .problem(422, "validation_failed");

        // A state is bound to the provider that started it.
        let callback = started_callback(&app).await;
        let elsewhere = callback.replace("/oidc/test/", "/oidc/other/");
        app.get(&elsewhere).await.problem(404, "provider_not_found");

        app.get("/v1/auth/oidc/nope/start?redirect_uri=https%3A%2F%2Fapp.example.com%2Fsigned-in")
            .await
            .problem(404, "provider_not_found");
        let foreign = app
            .get(&start_path("https://evil.example.com/signed-in"))
            .await
            .problem(422, "validation_failed");
        assert_eq!(foreign["errors"][0]["field"], "redirect_uri");
        assert!(
            events_of(&app, "auth.oidc.login.succeeded")
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn the_provider_refuses_a_code_without_its_own_pkce_verifier() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        // Code injection: flow A's state with flow B's code. The server sends A's
        // verifier, which is not the one B's challenge was made from.
        let a = Url::parse(&format!("http://x{}", started_callback(&app).await)).expect("url");
        let b = Url::parse(&format!("http://x{}", started_callback(&app).await)).expect("url");
        let injected = format!(
            "{}?{}",
            a.path(),
            url_query(&[
                ("code", &query_param(&b, "code").expect("code")),
                ("state", &query_param(&a, "state").expect("state")),
            ])
        );
        app.get(&injected).await.problem(401, "code_rejected");
        let failed = events_of(&app, "auth.oidc.login.failed").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["payload"]["reason"], "code_rejected");

        // And without any verifier, straight at the token endpoint.
        let c = Url::parse(&format!("http://x{}", started_callback(&app).await)).expect("url");
        let answer = reqwest::Client::new()
            .post(format!("{}/token", provider.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &query_param(&c, "code").expect("code")),
                (
                    "redirect_uri",
                    "http://127.0.0.1:8080/v1/auth/oidc/test/callback",
                ),
            ])
            .send()
            .await
            .expect("provider answers");
        assert_eq!(answer.status(), 400);
        let body: Value = answer.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant");
        assert!(
            app.store
                .user_by_email("one@example.com")
                .await
                .expect("read")
                .is_none()
        );
    }
}

#[tokio::test]
async fn refuses_id_tokens_with_a_wrong_audience_issuer_nonce_or_expiry() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        let cases = [
            (
                "aud",
                Tamper {
                    audience: Some("another-client".to_owned()),
                    ..Tamper::default()
                },
            ),
            (
                "iss",
                Tamper {
                    issuer: Some("http://127.0.0.1:1".to_owned()),
                    ..Tamper::default()
                },
            ),
            (
                "nonce",
                Tamper {
                    nonce: Some("a-replayed-nonce".to_owned()),
                    ..Tamper::default()
                },
            ),
            (
                "exp",
                Tamper {
                    expired: true,
                    ..Tamper::default()
                },
            ),
        ];
        for (what, tamper) in cases {
            provider.tamper(tamper);
            let refused = through_callback(&app)
                .await
                .problem(401, "invalid_id_token");
            assert!(
                refused["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{what}"
            );
        }
        let failed = events_of(&app, "auth.oidc.login.failed").await;
        assert_eq!(failed.len(), 4);
        assert!(
            failed
                .iter()
                .all(|e| e["payload"]["reason"] == "invalid_id_token")
        );
        assert!(
            app.store
                .user_by_email("one@example.com")
                .await
                .expect("read")
                .is_none()
        );

        // The same provider with honest tokens again: the refusals were the tampering.
        provider.tamper(Tamper::default());
        sign_in(&app).await;
    }
}
