//! Second factors through the API, on both backends: TOTP enrolment and the second step
//! of sign-in with real codes computed from the returned secret, replay and skew, wrong
//! codes and the throttle, `mfa_token` expiry, reuse and device binding, backup codes,
//! and removal (emailed codes: `auth_mfa_email`; trusted devices: `auth_mfa_trusted`).

use axum::http::Method;
use serde_json::{Value, json};

use crate::auth::{PASSWORD, post};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::Caller;

/// The code an authenticator app shows `steps` time steps (30 s) from now.
pub(crate) fn totp_code(secret: &str, steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build_noncompliant();
    let now = chrono::Utc::now().timestamp() + steps * 30;
    totp.generate(u64::try_from(now).expect("after 1970"))
        .to_string()
}

/// Confirms `caller`'s pending authenticator app with the code of the step before the
/// current one, which the server accepts (one step of skew) until the current step ends,
/// leaving the current and the next step's codes unused. Sent once more if a step ended
/// while it was on its way: the code may have expired before it arrived.
pub(crate) async fn confirm_with_previous_step(
    app: &TestApp,
    caller: &Caller,
    secret: &str,
) -> TestResponse {
    let step = || chrono::Utc::now().timestamp().div_euclid(30);
    let sent_in = step();
    let confirm = || {
        let code = totp_code(secret, -1);
        caller.post(app, "/v1/auth/mfa/totp/confirm", json!({"code": code}))
    };
    let confirmed = confirm().await;
    if confirmed.status == 200 || step() == sent_in {
        return confirmed;
    }
    confirm().await
}

/// A registered user with an active authenticator app: the caller, the secret and the
/// backup codes. The confirmation used the previous step's code, so the current and the
/// next step's codes are still unused.
pub(crate) async fn enrolled(app: &TestApp, email: &str) -> (Caller, String, Vec<String>) {
    let caller = Caller::registered(app, email).await;
    let (secret, codes) = enrol_totp(app, &caller).await;
    (caller, secret, codes)
}

/// Gives `caller`'s account an active authenticator app: its secret and the backup codes.
/// The confirmation used the previous step's code.
pub(crate) async fn enrol_totp(app: &TestApp, caller: &Caller) -> (String, Vec<String>) {
    let enrolment = caller
        .post(app, "/v1/auth/mfa/totp/enroll", json!({}))
        .await;
    assert_eq!(enrolment.status, 201, "{}", enrolment.text());
    let secret = enrolment.json()["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let confirmed = confirm_with_previous_step(app, caller, &secret).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    let codes = confirmed.json()["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (secret, codes)
}

/// The first step; the answer's JSON (a token pair or `mfa_required`).
pub(crate) async fn sign_in(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> Value {
    sign_in_with(app, json!({"email": email, "password": PASSWORD}), headers).await
}

pub(crate) async fn sign_in_with(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> Value {
    let response = post(app, "/v1/auth/login", body, headers).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// The first step of an account with a second factor: its `mfa_token`.
pub(crate) async fn mfa_token(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> String {
    let first = sign_in(app, email, headers).await;
    assert_eq!(first["mfa_required"], true, "{first}");
    assert!(
        first.get("access_token").is_none(),
        "no session yet: {first}"
    );
    first["mfa_token"].as_str().expect("mfa_token").to_owned()
}

pub(crate) async fn verify(
    app: &TestApp,
    token: &str,
    method: &str,
    code: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let body = json!({"mfa_token": token, "method": method, "code": code});
    post(app, "/v1/auth/mfa/verify", body, headers).await
}

/// An event's payload, stored as JSON text.
pub(crate) fn payload(event: &Value) -> Value {
    serde_json::from_str(event["payload"].as_str().expect("payload text")).expect("JSON")
}

pub(crate) fn event_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect()
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_takes_two_steps_and_the_session_says_so() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let caller = Caller::registered(&app, "ada@example.com").await;
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status, json!({"factors": [], "backup_codes_left": 0}));

        let enrolment = caller
            .post(&app, "/v1/auth/mfa/totp/enroll", json!({}))
            .await;
        assert_eq!(enrolment.status, 201, "{}", enrolment.text());
        let enrolment = enrolment.json();
        let secret = enrolment["secret"].as_str().expect("secret");
        assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
        let uri = enrolment["otpauth_uri"].as_str().expect("uri");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(uri.contains("issuer=tenantbase"), "{uri}");
        assert!(enrolment["qr_svg"].as_str().expect("svg").contains("<svg"));
        let pending = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(pending["factors"][0]["type"], "totp");
        assert_eq!(pending["factors"][0]["confirmed"], false);
        let before = sign_in(&app, "ada@example.com", &[]).await;
        assert!(
            before["access_token"].is_string(),
            "a pending enrolment does not count: {before}"
        );

        let wrong = caller
            .post(
                &app,
                "/v1/auth/mfa/totp/confirm",
                json!({"code": totp_code(secret, 5)}),
            )
            .await;
        wrong.problem(422, "validation_failed");
        let confirmed = confirm_with_previous_step(&app, &caller, secret).await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.text());
        let codes = confirmed.json()["backup_codes"].clone();
        let codes: Vec<&str> = codes
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code"))
            .collect();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 14), "{codes:?}");
        let mut unique = codes.clone();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        caller
            .post(
                &app,
                "/v1/auth/mfa/totp/confirm",
                json!({"code": totp_code(secret, 0)}),
            )
            .await
            .problem(409, "totp_already_enrolled");
        caller
            .post(&app, "/v1/auth/mfa/totp/enroll", json!({}))
            .await
            .problem(409, "totp_already_enrolled");
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status["factors"][0]["confirmed"], true);
        assert_eq!(status["backup_codes_left"], 10);

        let first = sign_in(&app, "ada@example.com", &[]).await;
        assert_eq!(first["mfa_required"], true, "{first}");
        assert_eq!(first["methods"], json!(["totp", "backup_code"]));
        let token = first["mfa_token"].as_str().expect("mfa_token");
        let code = totp_code(secret, 0);
        let second = verify(&app, token, "totp", &code, &[]).await;
        assert_eq!(second.status, 200, "{}", second.text());
        let pair = second.json();
        assert!(pair.get("device_token").is_none(), "not asked: {pair}");
        let signed_in = caller.with_token(pair["access_token"].as_str().expect("at"));
        let me = signed_in.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["auth_methods"], json!(["pwd", "otp", "mfa"]));
        let sessions = signed_in.get(&app, "/v1/auth/sessions").await.json();
        let current = sessions["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|s| s["current"] == true)
            .expect("current session");
        assert_eq!(current["amr"], json!(["pwd", "otp", "mfa"]));
        let refreshed = post(
            &app,
            "/v1/auth/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
            &[],
        )
        .await;
        let refreshed = caller.with_token(refreshed.json()["access_token"].as_str().expect("at"));
        let me = refreshed.get(&app, "/v1/auth/me").await.json();
        assert_eq!(
            me["auth_methods"],
            json!(["pwd", "otp", "mfa"]),
            "kept on refresh"
        );

        verify(&app, token, "totp", &totp_code(secret, 1), &[])
            .await
            .problem(401, "invalid_mfa_token");
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        verify(&app, &token, "totp", &code, &[])
            .await
            .problem(401, "invalid_mfa_code");
        let skewed = verify(&app, &token, "totp", &totp_code(secret, 1), &[]).await;
        assert_eq!(
            skewed.status,
            200,
            "one step ahead passes: {}",
            skewed.text()
        );

        let events = app.platform_events().await;
        let types = event_types(&events);
        for expected in [
            "auth.mfa.totp.enrolment_started",
            "auth.mfa.totp.enrolled",
            "auth.login.mfa_required",
            "auth.mfa.verified",
            "auth.mfa.verify.failed",
        ] {
            assert!(
                types.contains(&expected),
                "{backend:?}: {expected} in {types:?}"
            );
        }
        let succeeded = events
            .iter()
            .rfind(|e| e["event_type"] == "auth.login.succeeded")
            .expect("sign-in event");
        assert_eq!(payload(succeeded)["amr"], json!(["pwd", "otp", "mfa"]));
    }
}

#[tokio::test]
async fn wrong_codes_fail_with_401_then_the_account_is_throttled() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, secret, _) = enrolled(&app, "ada@example.com").await;
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        for _ in 0..10 {
            verify(&app, &token, "totp", "000000x", &[])
                .await
                .problem(401, "invalid_mfa_code");
        }
        let throttled = verify(&app, &token, "totp", &totp_code(&secret, 0), &[]).await;
        throttled.problem(429, "too_many_attempts");
        assert!(throttled.header("retry-after").is_some());
        let failed = app
            .platform_events()
            .await
            .iter()
            .filter(|e| e["event_type"] == "auth.mfa.verify.failed")
            .count();
        assert_eq!(failed, 10, "{backend:?}: each failure audited");
    }
}

/// Makes every pending `mfa_token` of the app expired.
async fn expire_mfa_tokens(app: &TestApp) {
    app.execute_sql("UPDATE mfa_challenges SET expires_at = created_at")
        .await;
}

#[tokio::test]
async fn mfa_tokens_are_bound_to_the_device_single_use_and_short_lived() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, secret, codes) = enrolled(&app, "ada@example.com").await;
        let device_a = [("x-device-id", "device-a")];
        let token = mfa_token(&app, "ada@example.com", &device_a).await;
        let code = totp_code(&secret, 0);
        verify(&app, &token, "totp", &code, &[("x-device-id", "device-b")])
            .await
            .problem(401, "invalid_mfa_token");
        verify(&app, &token, "totp", &code, &[])
            .await
            .problem(401, "invalid_mfa_token");
        let passed = verify(&app, &token, "totp", &code, &device_a).await;
        assert_eq!(
            passed.status,
            200,
            "the right device still can: {}",
            passed.text()
        );
        verify(&app, &token, "backup_code", &codes[0], &device_a)
            .await
            .problem(401, "invalid_mfa_token");

        verify(&app, "rt_unknown", "backup_code", &codes[0], &[])
            .await
            .problem(401, "invalid_mfa_token");
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        expire_mfa_tokens(&app).await;
        verify(&app, &token, "backup_code", &codes[0], &[])
            .await
            .problem(401, "invalid_mfa_token");
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        verify(&app, &token, "email_code", "123456", &[])
            .await
            .problem(422, "validation_failed");
    }
}

/// A password change (or reset) ends sign-ins half way through: an `mfa_token` the old
/// password earned no longer opens a session, whatever second factor comes with it.
#[tokio::test]
async fn a_password_change_ends_second_steps_under_way() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, secret, codes) = enrolled(&app, "eve@example.com").await;
        let (by_code, by_backup) = (
            mfa_token(&app, "eve@example.com", &[]).await,
            mfa_token(&app, "eve@example.com", &[]).await,
        );
        let changed = caller
            .post(
                &app,
                "/v1/auth/password/change",
                json!({"current_password": PASSWORD, "new_password": "a fresh passphrase here"}),
            )
            .await;
        assert_eq!(changed.status, 204, "{backend:?}: {}", changed.text());
        verify(&app, &by_code, "totp", &totp_code(&secret, 0), &[])
            .await
            .problem(401, "invalid_mfa_token");
        verify(&app, &by_backup, "backup_code", &codes[0], &[])
            .await
            .problem(401, "invalid_mfa_token");
        // The new password's sign-in still takes both steps, and the code is unspent.
        let body = json!({"email": "eve@example.com", "password": "a fresh passphrase here"});
        let first = sign_in_with(&app, body, &[]).await;
        let token = first["mfa_token"].as_str().expect("mfa_token");
        let passed = verify(&app, token, "totp", &totp_code(&secret, 0), &[]).await;
        assert_eq!(passed.status, 200, "{backend:?}: {}", passed.text());
    }
}

#[tokio::test]
async fn backup_codes_work_once_are_counted_and_regenerated() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, _, codes) = enrolled(&app, "ada@example.com").await;
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        // As people retype them: upper case, spaces for dashes.
        let typed = codes[0].to_uppercase().replace('-', " ");
        let passed = verify(&app, &token, "backup_code", &typed, &[]).await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status["backup_codes_left"], 9);
        let token = mfa_token(&app, "ada@example.com", &[]).await;
        verify(&app, &token, "backup_code", &codes[0], &[])
            .await
            .problem(401, "invalid_mfa_code");
        let used = app
            .platform_events()
            .await
            .into_iter()
            .find(|e| e["event_type"] == "auth.mfa.backup_code.used")
            .expect("event");
        assert_eq!(payload(&used)["remaining"], 9);

        let regenerated = caller
            .post(&app, "/v1/auth/mfa/backup-codes/regenerate", json!({}))
            .await;
        assert_eq!(regenerated.status, 200, "{}", regenerated.text());
        let fresh = regenerated.json()["backup_codes"].clone();
        assert_eq!(fresh.as_array().expect("codes").len(), 10);
        verify(&app, &token, "backup_code", &codes[1], &[])
            .await
            .problem(401, "invalid_mfa_code");
        let passed = verify(
            &app,
            &token,
            "backup_code",
            fresh[0].as_str().expect("code"),
            &[],
        )
        .await;
        assert_eq!(passed.status, 200, "{}", passed.text());
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status["backup_codes_left"], 9);
        let types = event_types(&app.platform_events().await)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(
            types
                .iter()
                .any(|t| t == "auth.mfa.backup_codes.regenerated")
        );
    }
}

#[tokio::test]
async fn removing_totp_ends_the_second_step_and_tells_the_user() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (caller, _, _) = enrolled(&app, "ada@example.com").await;
        let removed = caller
            .call(&app, Method::DELETE, "/v1/auth/mfa/totp", None)
            .await;
        assert_eq!(removed.status, 204, "{}", removed.text());
        let status = caller.get(&app, "/v1/auth/mfa").await.json();
        assert_eq!(status, json!({"factors": [], "backup_codes_left": 0}));
        let first = sign_in(&app, "ada@example.com", &[]).await;
        assert!(first["access_token"].is_string(), "{first}");
        let mail = app.queued_mail().await;
        assert!(
            mail.iter()
                .any(|m| m.to.contains("ada@example.com")
                    && m.text.contains("(totp) was just removed")),
            "{mail:?}"
        );
        caller
            .call(&app, Method::DELETE, "/v1/auth/mfa/totp", None)
            .await
            .problem(404, "mfa_not_enrolled");
        caller
            .post(&app, "/v1/auth/mfa/backup-codes/regenerate", json!({}))
            .await
            .problem(404, "mfa_not_enrolled");
        assert!(event_types(&app.platform_events().await).contains(&"auth.mfa.totp.removed"));
    }
}
