//! Access tokens at the HTTP edge: the JWKS, rejection of forged and expired tokens with
//! an RFC 6750 challenge, key rotation without a restart, the gateway's forward-auth, and
//! the OpenAPI contract of the auth routes.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tenantbase_core::identity::tokens::Subject;

use crate::auth::{login, register, token, with_token};
use crate::helpers::{BOTH, Backend, TestApp};

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let app = TestApp::new(Backend::Sqlite).await;
    let jwks = app.get("/.well-known/jwks.json").await.json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let registered = register(&app, "alan@example.com").await;
    let header: Value = {
        use base64::Engine;
        let first = token(&registered).split('.').next().expect("header");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(first)
                .expect("b64"),
        )
        .expect("json")
    };
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "EdDSA");
}

#[tokio::test]
async fn forged_and_expired_tokens_are_401_with_a_challenge() {
    use base64::Engine;
    let app = TestApp::new(Backend::Sqlite).await;
    let registered = register(&app, "forger@example.com").await;
    let genuine = token(&registered);
    let parts: Vec<&str> = genuine.split('.').collect();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .expect("b64"),
    )
    .expect("json");
    let kid = header["kid"].clone();
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        parts[1]
    );
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    let mut flipped_payload = parts[1].as_bytes().to_vec();
    flipped_payload[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8_lossy(&flipped_payload),
        parts[2]
    );
    let sub = registered["user"]["id"].as_str().expect("id");
    let me = with_token(&app, Method::GET, "/v1/auth/me", genuine)
        .await
        .json();
    let sid = me["session_id"].as_str().expect("sid");
    let (expired, _) = app
        .identity()
        .keyring()
        .issue(
            &Subject {
                user: sub,
                session: sid,
                amr: &["pwd"],
                auth_time: (chrono::Utc::now() - chrono::Duration::hours(2)).timestamp(),
                org: None,
            },
            None,
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .expect("issue");
    for forged in [alg_none, stripped, flipped, expired] {
        let response = with_token(&app, Method::GET, "/v1/auth/me", &forged).await;
        response.assert_invalid_token();
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_auth_contract() {
    let app = TestApp::new(Backend::Sqlite).await;
    let document = app.get("/openapi.json").await.json();
    for (path, method) in [
        ("/v1/auth/register", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/guest", "post"),
        ("/v1/auth/guest/upgrade", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/auth/sessions", "get"),
        ("/v1/auth/sessions/{id}", "delete"),
        ("/v1/auth/sessions/revoke-all", "post"),
        ("/v1/auth/email/verify", "post"),
        ("/v1/auth/email/resend", "post"),
        ("/v1/auth/password/forgot", "post"),
        ("/v1/auth/password/reset", "post"),
        ("/v1/auth/password/change", "post"),
        ("/v1/auth/verify", "get"),
        ("/.well-known/jwks.json", "get"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn rotated_keys_take_effect_without_a_restart() {
    use base64::Engine;
    use tenantbase_core::identity::signing_keys::{load_keyring, rotate_keys};
    use tenantbase_core::identity::tokens::TokenConfig;

    let kid_of = |body: &Value| -> String {
        let header = token(body).split('.').next().expect("header").to_owned();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .expect("b64"),
        )
        .expect("json");
        header["kid"].as_str().expect("kid").to_owned()
    };
    let app = TestApp::new(Backend::Sqlite).await;
    let before = register(&app, "rotation@example.com").await;
    let new_kid = rotate_keys(app.store.as_ref(), app.master())
        .await
        .expect("rotate");
    assert_ne!(kid_of(&before), new_kid);
    let keyring = load_keyring(
        app.store.as_ref(),
        app.master(),
        TokenConfig::new("tenantbase", "tenantbase"),
    )
    .await
    .expect("reload");
    app.identity().replace_keyring(keyring);

    let after = login(&app, "rotation@example.com", &[]).await;
    assert_eq!(
        kid_of(&after),
        new_kid,
        "new tokens are signed with the new key"
    );
    assert_eq!(
        with_token(&app, Method::GET, "/v1/auth/me", token(&before))
            .await
            .status,
        200,
        "old tokens verify until they expire"
    );
    let jwks = app.get("/.well-known/jwks.json").await.json();
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
    let events = app.platform_events().await;
    assert!(events.iter().any(|e| e["event_type"] == "auth.key.rotated"));
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = app.get("/v1/auth/me").await;
    response.problem(401, "missing_token");
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    for bad in ["garbage", "a.b.c", "Basic abc"] {
        let response = with_token(&app, Method::GET, "/v1/auth/me", bad).await;
        response.assert_invalid_token();
    }
}

/// The scheme is matched whatever its case (RFC 9110 §11.1); two `Authorization` headers
/// are refused, even when one is valid, rather than the first one winning.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_comes_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let session = register(&app, "scheme@example.com").await;
        let access = token(&session);
        let me = |values: Vec<String>| {
            let mut request = Request::get("/v1/auth/me");
            for value in values {
                request = request.header("authorization", value);
            }
            app.send(request.body(Body::empty()).expect("request"))
        };
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let response = me(vec![format!("{scheme} {access}")]).await;
            assert_eq!(
                response.status,
                200,
                "{backend:?} {scheme}: {}",
                response.text()
            );
        }
        for second in [format!("Bearer {access}"), "Bearer garbage".to_owned()] {
            me(vec![format!("Bearer {access}"), second])
                .await
                .assert_invalid_token();
        }
        me(vec![format!("Bearer{access}")])
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn forward_auth_answers_204_with_identity_headers_or_401() {
    let app = TestApp::new(Backend::Sqlite).await;
    let session = register(&app, "gateway@example.com").await;
    let ok = with_token(&app, Method::GET, "/v1/auth/verify", token(&session)).await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("x-auth-user-id"), session["user"]["id"].as_str());
    assert!(
        ok.header("x-auth-session-id")
            .expect("session header")
            .starts_with("ses_")
    );
    assert!(
        ok.header("x-auth-org-id").is_none(),
        "the token is not bound to an org"
    );
    app.get("/v1/auth/verify")
        .await
        .problem(401, "missing_token");
    with_token(&app, Method::GET, "/v1/auth/verify", "x.y.z")
        .await
        .problem(401, "invalid_token");
}
