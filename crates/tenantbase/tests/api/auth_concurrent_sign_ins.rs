//! One account signed in to from several places at the same moment: every sign-in opens
//! its session, on both backends (on PostgreSQL two of them deadlocked on the user's row,
//! and one answered 500).

use futures::future::join_all;
use serde_json::json;

use crate::auth::{PASSWORD, post};
use crate::auth_mfa::{enrolled, mfa_token};
use crate::helpers::{BOTH, TestApp};
use crate::tenants::verified;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_of_one_account_at_once_all_open_their_session() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        verified(&app, "bob@example.com").await;
        let body = json!({"email": "bob@example.com", "password": PASSWORD});
        let logins =
            join_all((0..4).map(|_| post(&app, "/v1/auth/login", body.clone(), &[]))).await;
        for login in &logins {
            assert_eq!(login.status, 200, "{backend:?} password: {}", login.text());
        }

        let (_, _, codes) = enrolled(&app, "ada@example.com").await;
        let tokens = join_all((0..4).map(|_| mfa_token(&app, "ada@example.com", &[]))).await;
        let second_steps = join_all(tokens.iter().zip(&codes).map(|(token, code)| {
            let body = json!({"mfa_token": token, "method": "backup_code", "code": code});
            post(&app, "/v1/auth/mfa/verify", body, &[])
        }))
        .await;
        for step in &second_steps {
            assert_eq!(step.status, 200, "{backend:?} second step: {}", step.text());
        }
    }
}
