//! No second-factor secret rests in plain text: TOTP secrets are sealed, backup codes
//! and emailed codes kept as keyed hashes, `mfa_token`s and device tokens as SHA-256 —
//! checked by searching every column of every table (`secrets_at_rest`).

use serde_json::json;
use sqlx::Connection;

use crate::auth::post;
use crate::auth_mfa::{enrolled, mfa_token, totp_code};
use crate::auth_mfa_email::{mailed_code, send_email_code};
use crate::helpers::{BOTH, Backend, TestApp};
use crate::secrets_at_rest::{assert_absent, assert_only_hashed, find_in_database};
use crate::tenants::verified;

/// The stored hashes of emailed codes.
async fn email_code_hashes(app: &TestApp, backend: Backend) -> Vec<String> {
    let sql = "SELECT code_hash FROM mfa_email_codes";
    match backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("sqlite");
            sqlx::query_scalar(sql)
                .fetch_all(&mut db)
                .await
                .expect("read")
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(&app.database_url)
                .await
                .expect("postgres");
            sqlx::query_scalar(sql)
                .fetch_all(&mut db)
                .await
                .expect("read")
        }
    }
}

#[tokio::test]
async fn second_factor_secrets_rest_sealed_or_hashed() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (_, secret, codes) = enrolled(&app, "ada@example.com").await;
        assert_absent(&app, backend, &secret, "TOTP secret").await;
        assert_absent(&app, backend, &secret.to_lowercase(), "TOTP secret").await;
        let sealed = find_in_database(&app, backend, "totp").await;
        assert!(
            sealed.contains(&"mfa_factors.kind".to_owned()),
            "{backend:?}: the scan sees the factor row: {sealed:?}"
        );
        for code in &codes {
            assert_absent(&app, backend, code, "backup code").await;
            assert_absent(&app, backend, &code.replace('-', ""), "backup code").await;
        }

        let laptop = [("x-device-id", "laptop")];
        let token = mfa_token(&app, "ada@example.com", &laptop).await;
        assert_only_hashed(&app, backend, &token, "mfa_token").await;
        let body = json!({"mfa_token": token, "method": "totp",
            "code": totp_code(&secret, 0), "trust_device": true});
        let trusted = post(&app, "/v1/auth/mfa/verify", body, &laptop).await;
        assert_eq!(trusted.status, 200, "{}", trusted.text());
        let device_token = trusted.json()["device_token"]
            .as_str()
            .expect("device token")
            .to_owned();
        assert_only_hashed(&app, backend, &device_token, "device token").await;

        let caller = verified(&app, "bob@example.com").await;
        let enabled = caller
            .post(&app, "/v1/auth/mfa/email/enable", json!({}))
            .await;
        assert_eq!(enabled.status, 204, "{}", enabled.text());
        let token = mfa_token(&app, "bob@example.com", &[]).await;
        let sent = send_email_code(&app, &token).await;
        assert_eq!(sent.status, 202, "{}", sent.text());
        // Six digits could turn up anywhere by chance (a timestamp), so instead of a
        // scan: the one stored form is a 256-bit keyed hash, and the queued email that
        // carries the code opens only with the master key (`queued_mail` opens it).
        let code = mailed_code(&app, "bob@example.com").await;
        let hashes = email_code_hashes(&app, backend).await;
        assert_eq!(hashes.len(), 1, "{hashes:?}");
        assert_eq!(hashes[0].len(), 64, "{hashes:?}");
        assert!(!hashes[0].contains(&code));
        let jobs = app.store.list_jobs(None, 1000).await.expect("jobs");
        assert!(
            jobs.iter().filter(|j| j.kind == "mail.send").all(|j| j
                .payload
                .as_object()
                .is_some_and(|p| p.len() == 1 && p["sealed"].is_string())),
            "{backend:?}: mail payloads sealed"
        );
    }
}
