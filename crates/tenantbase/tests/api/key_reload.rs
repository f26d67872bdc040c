//! A running server picks up `tenantbase keys rotate`, run beside it, within
//! `auth.key_reload_secs`, on both backends: the new key appears in the JWKS and signs the
//! next tokens, and the retired one still verifies.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::process::{Server, client, output, tenantbase};

/// The key ids the server publishes now.
async fn published_kids(server: &Server) -> Vec<String> {
    let jwks: Value = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// The `kid` in the header of a fresh guest's access token.
async fn kid_of_next_token(server: &Server) -> String {
    let token = server.guest_token().await;
    let header = token.split('.').next().expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64url"),
    )
    .expect("JSON header");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn running_server_picks_up_a_rotation(postgres: bool) {
    let database = if postgres {
        Some(tenantbase_testkit::fresh_database().await)
    } else {
        None
    };
    let dir = tempfile::tempdir().expect("dir");
    // Server and command share the data folder (its generated master key) and database.
    let command = || {
        let mut command: Command = tenantbase(dir.path());
        if let Some(database) = &database {
            command.env("DATABASE_URL", &database.url);
        }
        command
    };
    let mut server = Server::start(command().env("TENANTBASE_AUTH__KEY_RELOAD_SECS", "1"));
    let before = published_kids(&server).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(kid_of_next_token(&server).await, before[0]);

    let (ok, stdout, stderr) = output(command().args(["keys", "rotate"]));
    assert!(ok, "{stderr}");
    let new_kid = stdout
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no key id in: {stdout}"))
        .to_owned();
    assert_ne!(new_kid, before[0]);

    // Reloads every second: well within 20 s even in a debug build on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let kids = published_kids(&server).await;
        if kids.contains(&new_kid) {
            break kids;
        }
        assert!(
            Instant::now() < deadline,
            "the server never published {new_kid}: {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(after.contains(&before[0]), "the retired key still verifies");
    assert_eq!(kid_of_next_token(&server).await, new_kid);

    server.terminate();
    assert!(server.wait_exit().success());
}

#[tokio::test]
async fn running_server_picks_up_a_rotation_on_sqlite() {
    running_server_picks_up_a_rotation(false).await;
}

#[tokio::test]
async fn running_server_picks_up_a_rotation_on_postgres() {
    running_server_picks_up_a_rotation(true).await;
}

#[test]
fn a_zero_reload_interval_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .arg("serve")
            .env("TENANTBASE_AUTH__KEY_RELOAD_SECS", "0"),
    );
    assert!(!ok);
    assert!(
        stderr.contains("auth.key_reload_secs must be greater than 0"),
        "{stderr}"
    );
}
