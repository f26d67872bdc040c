//! What a new account's email, password and display name may be, on both backends:
//! addresses the mailer would refuse are 422s where they enter (not 500s when the
//! verification email is queued), a display name is checked as a profile's is (not cut
//! short), and one 422 names every wrong field.

use serde_json::json;

use crate::auth::{PASSWORD, post, token};
use crate::helpers::{BOTH, TestApp};

/// Shapes `Email::parse` accepts but no mail transport can address.
fn undeliverable() -> [String; 4] {
    [
        format!("{}@example.com", "a".repeat(65)),
        "a..b@example.com".to_owned(),
        "a(b@example.com".to_owned(),
        "a@-example.com".to_owned(),
    ]
}

#[tokio::test]
async fn undeliverable_addresses_are_refused_at_sign_up() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        for email in undeliverable() {
            let response = post(
                &app,
                "/v1/auth/register",
                json!({"email": email, "password": PASSWORD}),
                &[],
            )
            .await;
            assert_eq!(response.invalid_fields(), ["email"], "{backend:?} {email}");
        }
        let guest = post(&app, "/v1/auth/guest", json!({}), &[]).await.json();
        let bearer = format!("Bearer {}", token(&guest));
        let upgrade = post(
            &app,
            "/v1/auth/guest/upgrade",
            json!({"email": &undeliverable()[0], "password": PASSWORD}),
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(upgrade.invalid_fields(), ["email"], "{backend:?}");
        // The widest address the mailer takes still signs up.
        let widest = format!("{}@example.com", "a".repeat(64));
        let registered = post(
            &app,
            "/v1/auth/register",
            json!({"email": widest, "password": PASSWORD}),
            &[],
        )
        .await;
        assert_eq!(registered.status, 201, "{backend:?}: {}", registered.text());
    }
}

#[tokio::test]
async fn one_refusal_names_both_a_bad_email_and_a_bad_password() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let response = post(
            &app,
            "/v1/auth/register",
            json!({"email": "nope", "password": "x"}),
            &[],
        )
        .await;
        assert_eq!(
            response.invalid_fields(),
            ["email", "password"],
            "{backend:?}"
        );
        let long = "a".repeat(1_000_000);
        let response = post(
            &app,
            "/v1/auth/register",
            json!({"email": "a..b@example.com", "password": long}),
            &[],
        )
        .await;
        assert_eq!(
            response.invalid_fields(),
            ["email", "password"],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_display_name_is_checked_as_a_profiles_not_cut_short() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let register = |email: &str, display_name: String| {
            let body = json!({"email": email, "password": PASSWORD, "display_name": display_name});
            post(&app, "/v1/auth/register", body, &[])
        };
        let long = register("long@example.com", "n".repeat(101)).await;
        assert_eq!(long.invalid_fields(), ["display_name"], "{backend:?}");
        let hidden = register("bell@example.com", "Ann\u{7}".to_owned()).await;
        assert_eq!(hidden.invalid_fields(), ["display_name"], "{backend:?}");
        let all = post(
            &app,
            "/v1/auth/register",
            json!({"email": "nope", "password": "x", "display_name": "a\u{202E}b"}),
            &[],
        )
        .await;
        assert_eq!(
            all.invalid_fields(),
            ["display_name", "email", "password"],
            "{backend:?}"
        );
        // Absent or blank, the address's local part stands in.
        let blank = register("ann.lee@example.com", "  ".to_owned()).await;
        assert_eq!(blank.status, 201, "{backend:?}: {}", blank.text());
        assert_eq!(blank.json()["user"]["display_name"], "ann.lee");
        let kept = register("bo@example.com", format!(" {} ", "n".repeat(100))).await;
        assert_eq!(kept.json()["user"]["display_name"], "n".repeat(100));
    }
}
