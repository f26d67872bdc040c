//! The real binary: command line, configuration errors, first start, logs, and graceful
//! shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tenantbase_testkit::PgCluster;

const BIN: &str = env!("CARGO_BIN_EXE_tenantbase");

/// The binary with a clean environment: no TENANTBASE_* or DATABASE_URL from outside.
fn tenantbase(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir).env_remove("DATABASE_URL");
    for (name, _) in std::env::vars() {
        if name.starts_with("TENANTBASE_") {
            command.env_remove(name);
        }
    }
    command
}

fn output(command: &mut Command) -> (bool, String, String) {
    let out = command.output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
    assert!(dir.path().join("state/tenantbase.db").is_file());
    let (ok, second, _) = output(tenantbase(dir.path()).args(["migrate", "--data-dir", "state"]));
    assert!(ok);
    assert!(
        second.contains("0 applied now, 1 already applied"),
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

/// A running server whose stdout (JSON log lines) is collected by a thread.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    addr: String,
}

impl Server {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            lines,
            seen: Vec::new(),
            addr: String::new(),
        };
        let listening = server.wait_for_line(|l| l["message"] == "listening");
        server.addr = listening["addr"].as_str().expect("addr").to_owned();
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits up to 20 s for a log line matching `want`; every line must be JSON.
    fn wait_for_line(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .expect("expected log line before the deadline");
            self.seen.push(line.clone());
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if want(&value) {
                return value;
            }
        }
    }

    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

    let client = reqwest::Client::new();
    let response = client
        .get(server.url("/health?token=query-secret-123"))
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
    assert_eq!(line["route"], "/health");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some());
    for text in &server.seen {
        assert!(!text.contains("secret"), "a secret reached the log: {text}");
    }

    server.terminate();
    assert!(server.wait_exit().success());
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    // A frozen database makes `/ready` take its full 1.5 s limit: a real in-flight request.
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("no panic")
        .expect("a throwaway cluster (needs initdb and pg_ctl)");
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(tenantbase(dir.path()).env("DATABASE_URL", cluster.url()));
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(server.url("/ready"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );

    cluster.freeze().expect("freeze");
    let in_flight = tokio::spawn(client.get(server.url("/ready")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate();
    let response = in_flight
        .await
        .expect("join")
        .expect("the in-flight request got its answer");
    assert_eq!(response.status(), 503);
    cluster.thaw().expect("thaw");
    assert!(server.wait_exit().success());
    server.wait_for_line(|l| l["message"] == "stopped");
}
