//! `X-Device-Id`, which binds sessions, `mfa_token`s and trusted devices to a device, on
//! both backends: taken whole, or refused when it is too long or not text; empty, it is
//! no id at all.

use axum::body::Body;
use axum::http::{HeaderValue, Request};
use serde_json::json;

use crate::auth::PASSWORD;
use crate::auth_mfa::{enrolled, totp_code, verify};
use crate::helpers::{BOTH, TestApp, TestResponse};

/// `POST /v1/auth/login` of `email` with the password and `X-Device-Id` as raw bytes.
async fn sign_in_as_device(app: &TestApp, email: &str, device_id: &[u8]) -> TestResponse {
    let body = json!({"email": email, "password": PASSWORD});
    let request = Request::post("/v1/auth/login")
        .header("content-type", "application/json")
        .header(
            "x-device-id",
            HeaderValue::from_bytes(device_id).expect("header"),
        )
        .body(Body::from(body.to_string()))
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn a_device_id_is_taken_whole_or_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, secret, _) = enrolled(&app, "ada@example.com").await;
        // Two ids alike in their first 128 characters are two devices, not one.
        let long = "d".repeat(128);
        let (first, second) = (format!("{long}-laptop"), format!("{long}-phone"));
        for odd in [
            first.as_bytes(),
            second.as_bytes(),
            "laptop-é".as_bytes(),
            b"\xff\xfe",
        ] {
            let refused = sign_in_as_device(&app, "ada@example.com", odd).await;
            assert_eq!(
                refused.invalid_fields(),
                ["X-Device-Id"],
                "{backend:?}: {}",
                String::from_utf8_lossy(odd)
            );
        }
        let fits = sign_in_as_device(&app, "ada@example.com", long.as_bytes()).await;
        assert_eq!(fits.status, 200, "{}", fits.text());
        let token = fits.json()["mfa_token"].as_str().expect("token").to_owned();
        let elsewhere = [("x-device-id", "d")];
        verify(&app, &token, "totp", &totp_code(&secret, 0), &elsewhere)
            .await
            .problem(401, "invalid_mfa_token");
        // An empty id is no id, as an absent one.
        let empty = sign_in_as_device(&app, "ada@example.com", b"").await;
        assert_eq!(empty.status, 200, "{}", empty.text());
    }
}
