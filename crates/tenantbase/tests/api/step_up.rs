//! Step-up and sign-in notices: sensitive changes need a recent sign-in (claim
//! `auth_time`), `POST /v1/auth/reauthenticate` renews it, orgs may require a second
//! factor of their members, and a sign-in from a new device is emailed.

use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};
use tenantbase_core::identity::StepUpPolicy;
use tenantbase_core::identity::tokens::Subject;

use crate::auth::{login, post, register, token};
use crate::auth_mfa::{enrolled, totp_code};
use crate::helpers::{BOTH, Backend, TestApp};
use crate::tenants::{Caller, add_member, verified};

const PASSWORD: &str = "correct horse battery staple";

/// An app whose step-up window is one second, so a test can outwait it.
async fn short_window(backend: Backend) -> TestApp {
    TestApp::with_step_up(
        backend,
        StepUpPolicy {
            max_age: Duration::from_secs(1),
            ..StepUpPolicy::default()
        },
    )
    .await
}

/// Past the window (`auth_time` has whole seconds).
async fn outwait_the_window() {
    tokio::time::sleep(Duration::from_millis(2100)).await;
}

pub(crate) fn claims(access_token: &str) -> Value {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).expect("a JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_sign_in() {
    for backend in BOTH {
        let app = short_window(backend).await;
        let tokens = register(&app, "ren@example.com").await;
        let owner = Caller::from_tokens(&tokens);
        crate::tenants::mark_verified(&app, "ren@example.com").await;
        let org = owner.create_org(&app, "Step Co").await;
        let keys = format!("/v1/orgs/{org}/api-keys");
        let key = json!({"name": "ci", "permissions": ["org:delete", "org:manage"]});
        // Within the window: allowed.
        let fresh = owner.post(&app, &keys, key.clone()).await;
        assert_eq!(fresh.status, 201, "{backend:?}: {}", fresh.text());
        // A key has no sign-in to be recent, whatever its permissions.
        let api_key = owner.with_token(fresh.json()["secret"].as_str().expect("secret"));
        api_key
            .call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
            .await
            .problem(403, "user_required");
        api_key
            .call(
                &app,
                Method::PATCH,
                &format!("/v1/orgs/{org}"),
                Some(json!({"require_mfa": false})),
            )
            .await
            .problem(403, "user_required");
        let first_auth_time = claims(token(&tokens))["auth_time"]
            .as_i64()
            .expect("auth_time claim");

        outwait_the_window().await;
        owner
            .post(&app, &keys, key.clone())
            .await
            .problem(401, "reauthentication_required");
        owner
            .call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
            .await
            .problem(401, "reauthentication_required");
        let new_password =
            json!({"current_password": PASSWORD, "new_password": "another long passphrase"});
        owner
            .post(&app, "/v1/auth/password/change", new_password.clone())
            .await
            .problem(401, "reauthentication_required");
        owner
            .post(
                &app,
                "/v1/auth/email/change",
                json!({"email": "ren2@example.com"}),
            )
            .await
            .problem(401, "reauthentication_required");
        // An org's second-factor rule is a security setting; its name is not.
        let org_path = format!("/v1/orgs/{org}");
        owner
            .call(
                &app,
                Method::PATCH,
                &org_path,
                Some(json!({"require_mfa": false})),
            )
            .await
            .problem(401, "reauthentication_required");
        let renamed = owner
            .call(
                &app,
                Method::PATCH,
                &org_path,
                Some(json!({"name": "Step Co 2"})),
            )
            .await;
        assert_eq!(renamed.status, 200, "{backend:?}: {}", renamed.text());
        // Adding or removing a way to sign in is checked before anything else.
        owner
            .post(
                &app,
                "/v1/auth/identities/link",
                json!({"provider": "any", "redirect_uri": "https://app.example.com/linked"}),
            )
            .await
            .problem(401, "reauthentication_required");
        owner
            .call(
                &app,
                Method::DELETE,
                "/v1/auth/identities/idn_0190f6a0c7e47b3c9a1d2e3f4a5b6c7d",
                None,
            )
            .await
            .problem(401, "reauthentication_required");
        // Reading is not sensitive.
        assert_eq!(owner.get(&app, &keys).await.status, 200);

        owner
            .post(
                &app,
                "/v1/auth/reauthenticate",
                json!({"password": "wrong one"}),
            )
            .await
            .problem(401, "invalid_credentials");
        let renewed = owner
            .post(
                &app,
                "/v1/auth/reauthenticate",
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());
        let renewed = renewed.json();
        let auth_time = claims(token(&renewed))["auth_time"]
            .as_i64()
            .expect("auth_time");
        assert!(
            auth_time > first_auth_time,
            "{auth_time} > {first_auth_time}"
        );
        assert_eq!(
            claims(token(&renewed))["sid"],
            claims(token(&tokens))["sid"]
        );

        // The new token is allowed, and so is the old one: the session itself was renewed.
        let stepped_up = owner.with_token(token(&renewed));
        assert_eq!(stepped_up.post(&app, &keys, key.clone()).await.status, 201);
        assert_eq!(owner.post(&app, &keys, key.clone()).await.status, 201);
        let changed = stepped_up
            .post(&app, "/v1/auth/password/change", new_password)
            .await;
        assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());

        let events: Vec<String> = app
            .platform_events()
            .await
            .iter()
            .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
            .collect();
        for expected in ["auth.step_up.failed", "auth.step_up.succeeded"] {
            assert!(
                events.iter().any(|e| e == expected),
                "{backend:?}: {expected} in {events:?}"
            );
        }
    }
}

#[tokio::test]
async fn reauthentication_is_throttled_like_sign_in() {
    let app = TestApp::new(Backend::Sqlite).await;
    let caller = Caller::from_tokens(&register(&app, "tess@example.com").await);
    let mut refused = None;
    for _ in 0..12 {
        let response = caller
            .post(
                &app,
                "/v1/auth/reauthenticate",
                json!({"password": "guess"}),
            )
            .await;
        if response.status == 429 {
            refused = Some(response);
            break;
        }
        response.problem(401, "invalid_credentials");
    }
    let refused = refused.expect("guessing is throttled");
    refused.problem(429, "too_many_attempts");
    assert!(refused.header("retry-after").is_some());
}

/// An access token for the session of `access_token`, as a sign-in with a second factor would
/// issue it (the factors themselves are tested with the MFA routes).
fn with_second_factor(app: &TestApp, access_token: &str) -> String {
    let claims = claims(access_token);
    let subject = Subject {
        user: claims["sub"].as_str().expect("sub"),
        session: claims["sid"].as_str().expect("sid"),
        amr: &["pwd", "otp", "mfa"],
        auth_time: claims["auth_time"].as_i64().expect("auth_time"),
        org: None,
    };
    app.identity()
        .keyring()
        .issue(&subject, None, chrono::Utc::now())
        .expect("issues")
        .0
}

#[tokio::test]
async fn an_org_can_require_a_second_factor_of_its_members() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "olga@example.com").await;
        let org = owner.create_org(&app, "Strict Co").await;
        let member = add_member(&app, &owner, &org, "mo@example.com", &["member"]).await;
        let outsider = Caller::registered(&app, "otto@example.com").await;
        let projects = format!("/v1/orgs/{org}/projects");
        let org_path = format!("/v1/orgs/{org}");
        let require = async |caller: &Caller, on: bool| {
            let body = json!({"require_mfa": on});
            caller
                .call(&app, Method::PATCH, &org_path, Some(body))
                .await
        };

        // Turning it on needs a session with a second factor.
        require(&owner, true).await.problem(403, "mfa_required");
        let owner_mfa = owner.with_token(&with_second_factor(&app, &owner.token));
        let on = require(&owner_mfa, true).await;
        assert_eq!(on.status, 200, "{backend:?}: {}", on.text());
        assert_eq!(on.json()["require_mfa"], true);

        // Members without one are refused at once (grants were cached before), and told
        // where to enrol; outsiders still see nothing.
        let refused = member
            .get(&app, &projects)
            .await
            .problem(403, "mfa_required");
        assert_eq!(refused["enroll"], "/v1/auth/mfa/totp/enroll");
        owner
            .get(&app, &projects)
            .await
            .problem(403, "mfa_required");
        outsider
            .get(&app, &projects)
            .await
            .problem(404, "not_found");
        assert_eq!(owner_mfa.get(&app, &projects).await.status, 200);

        let off = require(&owner_mfa, false).await;
        assert_eq!(off.status, 200, "{}", off.text());
        assert_eq!(member.get(&app, &projects).await.status, 200);

        // A member who will not enrol a factor can still leave an org that requires one.
        let on = require(&owner_mfa, true).await;
        assert_eq!(on.status, 200, "{}", on.text());
        let leave = format!("/v1/orgs/{org}/members/leave");
        outsider
            .post(&app, &leave, json!({}))
            .await
            .problem(404, "not_found");
        let left = member.post(&app, &leave, json!({})).await;
        assert_eq!(left.status, 204, "{backend:?}: {}", left.text());
        member.get(&app, &projects).await.problem(404, "not_found");
    }
}

#[tokio::test]
async fn leaving_an_org_without_its_second_factor_needs_a_recent_sign_in() {
    for backend in BOTH {
        let app = short_window(backend).await;
        let owner = verified(&app, "olga@example.com").await;
        let org = owner.create_org(&app, "Strict Co").await;
        let member = add_member(&app, &owner, &org, "mo@example.com", &["member"]).await;
        let owner_mfa = owner.with_token(&with_second_factor(&app, &owner.token));
        let body = json!({"require_mfa": true});
        let on = owner_mfa
            .call(&app, Method::PATCH, &format!("/v1/orgs/{org}"), Some(body))
            .await;
        assert_eq!(on.status, 200, "{backend:?}: {}", on.text());

        // Leaving revokes the member's keys: a stale session must show it still has the
        // password, standing in for the factor the org would ask.
        outwait_the_window().await;
        let leave = format!("/v1/orgs/{org}/members/leave");
        member
            .post(&app, &leave, json!({}))
            .await
            .problem(401, "reauthentication_required");
        let renewed = member
            .post(
                &app,
                "/v1/auth/reauthenticate",
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());
        let member = member.with_token(token(&renewed.json()));
        let left = member.post(&app, &leave, json!({})).await;
        assert_eq!(left.status, 204, "{backend:?}: {}", left.text());
    }
}

async fn new_sign_in_notices(app: &TestApp) -> Vec<tenantbase_mail::OutgoingEmail> {
    app.queued_mail()
        .await
        .into_iter()
        .filter(|m| m.subject.contains("New sign-in"))
        .collect()
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_is_announced() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let email = "nadia@example.com";
        let registered = post(
            &app,
            "/v1/auth/register",
            json!({"email": email, "password": PASSWORD}),
            &[("x-device-id", "laptop-1")],
        )
        .await;
        assert_eq!(registered.status, 201, "{}", registered.text());
        login(&app, email, &[("x-device-id", "laptop-1")]).await;
        assert!(
            new_sign_in_notices(&app).await.is_empty(),
            "{backend:?}: a known device"
        );

        login(
            &app,
            email,
            &[("x-device-id", "phone-7"), ("user-agent", "Pixel Browser")],
        )
        .await;
        let sent = new_sign_in_notices(&app).await;
        assert_eq!(sent.len(), 1, "{backend:?}");
        assert!(sent[0].to.contains(email));
        assert!(sent[0].text.contains("Pixel Browser"), "{}", sent[0].text);
        // Now known.
        login(&app, email, &[("x-device-id", "phone-7")]).await;
        assert_eq!(new_sign_in_notices(&app).await.len(), 1);
        let events = app.platform_events().await;
        assert_eq!(
            events
                .iter()
                .filter(|e| e["event_type"] == "auth.login.new_device")
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn new_device_notices_can_be_turned_off() {
    let app = TestApp::with_step_up(
        Backend::Sqlite,
        StepUpPolicy {
            new_sign_in_alerts: false,
            ..StepUpPolicy::default()
        },
    )
    .await;
    register(&app, "quiet@example.com").await;
    login(&app, "quiet@example.com", &[("x-device-id", "elsewhere")]).await;
    assert!(new_sign_in_notices(&app).await.is_empty());
}

#[tokio::test]
async fn a_step_up_takes_the_second_factor_when_there_is_one() {
    for backend in BOTH {
        let app = short_window(backend).await;
        let (caller, secret, backup_codes) = enrolled(&app, "sven@example.com").await;
        outwait_the_window().await;
        caller
            .call(&app, Method::DELETE, "/v1/auth/mfa/totp", None)
            .await
            .problem(401, "reauthentication_required");

        let reauthenticate = |body: Value| {
            let caller = caller.clone();
            let app = &app;
            async move { caller.post(app, "/v1/auth/reauthenticate", body).await }
        };
        let asked = reauthenticate(json!({"password": PASSWORD}))
            .await
            .problem(401, "second_factor_required");
        assert_eq!(asked["methods"], json!(["totp", "backup_code"]));
        reauthenticate(json!({"password": PASSWORD, "method": "totp", "code": "000000"}))
            .await
            .problem(401, "invalid_mfa_code");
        // A right code behind a wrong password proves nothing.
        let code = totp_code(&secret, 0);
        reauthenticate(json!({"password": "wrong one", "method": "totp", "code": code}))
            .await
            .problem(401, "invalid_credentials");
        let renewed =
            reauthenticate(json!({"password": PASSWORD, "method": "totp", "code": code})).await;
        assert_eq!(renewed.status, 200, "{backend:?}: {}", renewed.text());
        // The same code again is a replay.
        reauthenticate(json!({"password": PASSWORD, "method": "totp", "code": code}))
            .await
            .problem(401, "invalid_mfa_code");
        let by_backup = reauthenticate(
            json!({"password": PASSWORD, "method": "backup_code", "code": backup_codes[0]}),
        )
        .await;
        assert_eq!(by_backup.status, 200, "{backend:?}: {}", by_backup.text());

        let removed = caller
            .call(&app, Method::DELETE, "/v1/auth/mfa/totp", None)
            .await;
        assert_eq!(removed.status, 204, "{backend:?}: {}", removed.text());
    }
}
