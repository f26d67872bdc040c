//! The real binary: command line, configuration errors, first start, logs, and graceful
//! shutdown on SIGTERM.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::{Server, client, output, tenantbase};

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, help, _) = output(tenantbase(dir.path()).arg("--help"));
    assert!(ok);
    for word in [
        "serve",
        "migrate",
        "openapi",
        "--config",
        "--data-dir",
        "--database-url",
        "TENANTBASE_",
    ] {
        assert!(help.contains(word), "--help mentions {word}");
    }
    let (ok, serve_help, _) = output(tenantbase(dir.path()).args(["serve", "--help"]));
    assert!(ok && serve_help.contains("--listen") && serve_help.contains("--no-migrate"));
    let (ok, version, _) = output(tenantbase(dir.path()).arg("--version"));
    assert!(ok);
    assert_eq!(
        version.trim(),
        format!("tenantbase {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn openapi_prints_the_document() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, stdout, _) = output(tenantbase(dir.path()).arg("openapi"));
    assert!(ok);
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/ready"].is_object());
}

#[test]
fn migrate_reports_what_it_applied_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, first, stderr) =
        output(tenantbase(dir.path()).args(["migrate", "--data-dir", "state"]));
    assert!(ok, "{stderr}");
    assert!(first.contains("applied 0001 init (sqlite)"), "{first}");
    let applied = first.lines().filter(|l| l.starts_with("applied ")).count();
    assert!(applied >= 2, "{first}");
    assert!(dir.path().join("state/tenantbase.db").is_file());
    let (ok, second, _) = output(tenantbase(dir.path()).args(["migrate", "--data-dir", "state"]));
    assert!(ok);
    assert!(
        second.contains(&format!("0 applied now, {applied} already applied")),
        "{second}"
    );
}

#[tokio::test]
async fn migrate_reports_what_it_applied_on_postgres() {
    let db = tenantbase_testkit::fresh_database().await;
    let dir = tempfile::tempdir().expect("dir");
    let (ok, stdout, stderr) = output(
        tenantbase(dir.path())
            .arg("migrate")
            .env("DATABASE_URL", &db.url),
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("applied 0001 init (postgres)"), "{stdout}");
    assert!(
        !dir.path().join("data").exists(),
        "PostgreSQL needs no data folder for migrate"
    );
}

#[test]
fn bad_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .arg("serve")
            .env("TENANTBASE_HTTP__BODY_LIMIT_BYTES", "lots"),
    );
    assert!(!ok);
    assert!(stderr.contains("body_limit_bytes"), "{stderr}");

    std::fs::write(
        dir.path().join("tb.toml"),
        "[http]\nrequest_timeout_secs = 0\n",
    )
    .expect("write");
    let (ok, _, stderr) = output(tenantbase(dir.path()).args(["serve", "--config", "tb.toml"]));
    assert!(!ok);
    assert!(stderr.contains("http.request_timeout_secs"), "{stderr}");
}

#[tokio::test]
async fn first_start_creates_the_data_folder_and_logs_json_without_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&mut tenantbase(dir.path()));
    assert!(dir.path().join("data/tenantbase.db").is_file());
    assert!(dir.path().join("data/files").is_dir());
    assert!(
        dir.path().join("data/tenantbase.db-wal").is_file(),
        "SQLite runs in WAL mode"
    );

    let client = client();
    let response = client
        .get(server.url("/?token=query-secret-123"))
        .header("x-request-id", "cli-test-42")
        .header("authorization", "Bearer header-secret-456")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "cli-test-42");

    let line = server
        .wait_for_line(|l| l["message"] == "request" && l["span"]["request_id"] == "cli-test-42");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some());
    // The fields the README promises, and no others.
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&line),
        [
            "latency_ms",
            "level",
            "message",
            "method",
            "route",
            "span",
            "status",
            "target",
            "timestamp"
        ]
    );
    assert_eq!(keys(&line["span"]), ["name", "request_id"]);
    for text in &server.seen {
        assert!(!text.contains("secret"), "a secret reached the log: {text}");
    }

    server.terminate();
    assert!(server.wait_exit().success());
}

/// Starts a guest's upload to a new org over a raw socket and stops after the first 10 of
/// its 1000 bytes. The server's `100 Continue` says the handler is reading the body, so
/// the request is in flight when this returns.
async fn start_upload(server: &Server, name: &str) -> TcpStream {
    let (token, org) = server.guest_with_org("Slow").await;
    let mut upload = TcpStream::connect(&server.addr).await.expect("connect");
    let head = format!(
        "POST /v1/orgs/{org}/files?name={name} HTTP/1.1\r\nhost: x\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {UPLOAD_BYTES}\r\nexpect: 100-continue\r\n\r\n"
    );
    upload.write_all(head.as_bytes()).await.expect("head");
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(30), upload.read_exact(&mut interim))
        .await
        .expect("100 Continue within 30 s")
        .expect("100 Continue");
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{interim:?}");
    upload.write_all(&[1u8; 10]).await.expect("some bytes");
    upload
}

/// The body size `start_upload` announces.
const UPLOAD_BYTES: usize = 1000;

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&mut tenantbase(dir.path()));
    let mut upload = start_upload(&server, "late.bin").await;

    server.terminate();
    server.wait_for_line(|l| l["message"] == "shutting down");
    // Only now does the rest of the body come: the request outlives the signal.
    upload
        .write_all(&[1u8; UPLOAD_BYTES - 10])
        .await
        .expect("the rest");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), upload.read_to_end(&mut response))
        .await
        .expect("answered before the deadline")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(server.wait_exit().success());
    server.wait_for_line(|l| l["message"] == "stopped");
}

#[tokio::test]
async fn shutdown_gives_up_at_its_deadline_and_says_what_it_abandons() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server =
        Server::start(tenantbase(dir.path()).env("TENANTBASE_SHUTDOWN_TIMEOUT_SECS", "1"));
    // An upload whose bytes stop coming: work that will not finish in time.
    let upload = start_upload(&server, "never.bin").await;

    server.terminate();
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(1), "a deadline that passed is an error");
    let abandoned = server.wait_for_line(|l| {
        l["message"] == "shutdown deadline passed: abandoning in-flight requests and jobs"
    });
    assert_eq!(abandoned["level"], "ERROR");
    assert_eq!(abandoned["requests"], 1, "{abandoned}");
    drop(upload);
}

#[tokio::test]
async fn keys_rotate_adds_a_signing_key_and_the_master_key_stays_private() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&mut tenantbase(dir.path()));
    let jwks: serde_json::Value = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let first_kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    server.terminate();
    assert!(server.wait_exit().success());
    let mode = std::fs::metadata(dir.path().join("data/master.key"))
        .expect("master key")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the owner may read the master key"
    );

    let (ok, stdout, stderr) = output(tenantbase(dir.path()).args(["keys", "rotate"]));
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("new signing key k_"), "{stdout}");

    let mut server = Server::start(&mut tenantbase(dir.path()));
    let jwks: serde_json::Value = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.len(), 2, "the retired key still verifies: {kids:?}");
    assert!(kids.contains(&first_kid.as_str()));
    server.terminate();
    assert!(server.wait_exit().success());

    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .args(["serve"])
            .env("TENANTBASE_AUTH__MASTER_KEY", "AAAA"),
    );
    assert!(!ok && stderr.contains("auth.master_key"), "{stderr}");
}
