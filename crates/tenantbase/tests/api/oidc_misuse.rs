//! The OpenID Connect routes against misbehaving clients, on both backends: malformed,
//! missing, repeated and NUL-bearing query parameters, unknown providers, provider
//! refusals, states used twice or at another provider, redirect URIs that only look like
//! an allowed one, and bodies of the wrong shape.

use reqwest::Url;
use serde_json::json;
use tenantbase_core::identity::oidc::OidcPolicy;
use tenantbase_testkit::oidc_provider::{OidcProvider, ProviderUser};

use crate::auth::register;
use crate::helpers::{BOTH, TestApp};
use crate::oidc::{
    APP_PAGE, app_with_provider, caller, consent, location, query_param, start_path, url_query,
    with_provider,
};

/// The callback path with `pairs` as its query.
fn callback_path(provider: &str, pairs: &[(&str, &str)]) -> String {
    format!("/v1/auth/oidc/{provider}/callback?{}", url_query(pairs))
}

/// A flow started and consented to: the callback's path and query, not yet called.
async fn consented(app: &TestApp, start: &str) -> Url {
    let started = app.get(start).await;
    let back = consent(&location(&started)).await;
    Url::parse(&format!("http://x{back}")).expect("url")
}

#[tokio::test]
async fn an_unknown_provider_is_not_found_whatever_its_query() {
    for backend in BOTH {
        let (app, _provider) = app_with_provider(backend).await;
        for path in [
            "/v1/auth/oidc/nope/start",
            "/v1/auth/oidc/nope/start?redirect_uri=%00",
            "/v1/auth/oidc/nope/callback",
            "/v1/auth/oidc/nope/callback?state=s&state=t",
            "/v1/auth/oidc/nope/callback?code=%00",
        ] {
            let answer = app.get(path).await;
            assert_eq!(answer.status, 404, "{backend:?} {path}: {}", answer.text());
            answer.problem(404, "provider_not_found");
        }
    }
}

#[tokio::test]
async fn a_callback_names_every_missing_or_repeated_parameter() {
    for backend in BOTH {
        let (app, _provider) = app_with_provider(backend).await;
        let cases: [(&str, &[&str]); 6] = [
            ("", &["code", "state"]),
            ("code=&state=", &["code", "state"]),
            ("error=access_denied", &["state"]),
            ("state=a-state-we-never-issued", &["code", "state"]),
            ("state=s&state=t&code=c", &["state"]),
            ("code=c&code=d&state=s", &["code"]),
        ];
        for (query, fields) in cases {
            let path = format!("/v1/auth/oidc/test/callback?{query}");
            let answer = app.get(&path).await;
            assert_eq!(answer.invalid_fields(), fields, "{backend:?} {query}");
        }
        let repeated = app
            .get(&format!(
                "{}&redirect_uri={}",
                start_path(APP_PAGE),
                "https%3A%2F%2Fapp.example.com%2Fsigned-in"
            ))
            .await;
        assert_eq!(repeated.invalid_fields(), ["redirect_uri"], "{backend:?}");
    }
}

#[tokio::test]
async fn a_provider_refusal_or_a_foreign_state_uses_the_state_up() {
    for backend in BOTH {
        let provider = OidcProvider::start().await;
        let mut policy = with_provider(&provider, OidcPolicy::default());
        let mut other = policy.providers[0].clone();
        other.name = "other".to_owned();
        policy.providers.push(other);
        let app = TestApp::with_oidc(backend, policy).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));

        // The user declined at the provider: the browser comes back with an error.
        let declined = consented(&app, &start_path(APP_PAGE)).await;
        let state = query_param(&declined, "state").expect("state");
        let refusal = callback_path(
            "test",
            &[
                ("error", "access_denied"),
                ("state", &state),
                ("error_description", "no"),
            ],
        );
        app.get(&refusal).await.problem(401, "provider_denied");
        let code = query_param(&declined, "code").expect("code");
        let late = callback_path("test", &[("code", &code), ("state", &state)]);
        assert_eq!(app.get(&late).await.invalid_fields(), ["state"]);

        // A state started at one provider is nothing at another.
        let started = consented(&app, &start_path(APP_PAGE)).await;
        let pairs: Vec<(String, String)> = started.query_pairs().into_owned().collect();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        let foreign = app.get(&callback_path("other", &pairs)).await;
        assert_eq!(foreign.invalid_fields(), ["state"], "{backend:?}");

        // An overlong state is unknown, an overlong code is the provider's to refuse.
        let long = "s".repeat(8 * 1024);
        let overlong = app
            .get(&callback_path("test", &[("code", "c"), ("state", &long)]))
            .await;
        assert_eq!(overlong.invalid_fields(), ["state"]);
        let fresh = consented(&app, &start_path(APP_PAGE)).await;
        let state = query_param(&fresh, "state").expect("state");
        let long_code = app
            .get(&callback_path(
                "test",
                &[("code", &long), ("state", &state)],
            ))
            .await;
        long_code.problem(401, "code_rejected");
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
async fn only_an_allowed_redirect_uri_exactly_is_accepted() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let owner = caller(&register(&app, "owner@example.com").await);
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        for lookalike in [
            "HTTPS://APP.EXAMPLE.COM/signed-in",
            "https://app.example.com/Signed-In",
            "https://app.example.com/signed-in/",
            "https://evil@app.example.com/signed-in",
            "https://app.example.com/signed-in#frag",
            "https://app.example.com:444/signed-in",
            "https://app.example.com:443/signed-in",
            "http://app.example.com/signed-in",
            "https://app.example.com/signed-in?next=https://evil.example.com",
            "https://app.example.com.evil.example.com/signed-in",
            "//app.example.com/signed-in",
            "",
        ] {
            let started = app.get(&start_path(lookalike)).await;
            assert_eq!(started.invalid_fields(), ["redirect_uri"], "{lookalike}");
            let link = owner
                .post(
                    &app,
                    "/v1/auth/identities/link",
                    json!({"provider": "test", "redirect_uri": lookalike}),
                )
                .await;
            assert_eq!(link.invalid_fields(), ["redirect_uri"], "{lookalike}");
        }
    }
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_name_every_field() {
    for backend in BOTH {
        let (app, _provider) = app_with_provider(backend).await;
        let owner = caller(&register(&app, "owner@example.com").await);
        let link = |body| owner.post(&app, "/v1/auth/identities/link", body);
        assert_eq!(
            link(json!({})).await.invalid_fields(),
            ["provider", "redirect_uri"]
        );
        assert_eq!(
            link(json!({"provider": 1, "redirect_uri": null, "extra": true}))
                .await
                .invalid_fields(),
            ["extra", "provider", "redirect_uri"]
        );
        assert_eq!(
            link(json!({"provider": "te\u{0}st", "redirect_uri": APP_PAGE}))
                .await
                .invalid_fields(),
            ["provider"]
        );
        let confirm = owner
            .post(
                &app,
                "/v1/auth/identities/link/confirm",
                json!({"link_code": 5}),
            )
            .await;
        assert_eq!(confirm.invalid_fields(), ["link_code"]);
        let exchange = crate::auth::post(
            &app,
            "/v1/auth/oidc/exchange",
            json!({"login_code": [], "code_verifier": 1, "device_token": {}}),
            &[],
        )
        .await;
        assert_eq!(
            exchange.invalid_fields(),
            ["code_verifier", "device_token", "login_code"]
        );
        for code in ["", ".", "idn_.x", "x\u{0}y", &"c".repeat(10_000)] {
            let answer = crate::auth::post(
                &app,
                "/v1/auth/oidc/exchange",
                json!({"login_code": code}),
                &[],
            )
            .await;
            assert_eq!(answer.invalid_fields(), ["login_code"], "{code:.20}");
        }
    }
}

#[tokio::test]
async fn an_expired_state_or_login_code_is_refused() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        let callback = consented(&app, &start_path(APP_PAGE)).await;
        app.execute_sql("UPDATE oidc_flows SET expires_at = created_at")
            .await;
        let late = format!(
            "{}?{}",
            callback.path(),
            callback.query().unwrap_or_default()
        );
        assert_eq!(app.get(&late).await.invalid_fields(), ["state"]);

        let code = crate::oidc::login_code(&app).await;
        app.execute_sql(
            "UPDATE user_tokens SET expires_at = created_at WHERE purpose = 'oidc_login'",
        )
        .await;
        let exchanged = crate::oidc::exchange_with(&app, json!({"login_code": code}), &[]).await;
        assert_eq!(exchanged.invalid_fields(), ["login_code"], "{backend:?}");
    }
}
