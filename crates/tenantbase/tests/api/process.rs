//! The real binary as a child process: a clean command, its output, and a running server
//! whose JSON log lines are collected.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tenantbase");

/// The binary with a clean environment: no TENANTBASE_* or DATABASE_URL from outside.
pub fn tenantbase(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    clean_env(&mut command).current_dir(dir);
    command
}

/// Keeps TENANTBASE_* and DATABASE_URL from outside away from `command` (the binary, or
/// a wrapper that runs it).
pub fn clean_env(command: &mut Command) -> &mut Command {
    command.env_remove("DATABASE_URL");
    for (name, _) in std::env::vars() {
        if name.starts_with("TENANTBASE_") {
            command.env_remove(name);
        }
    }
    command
}

/// The longest a command may run before the test fails (and the command is killed).
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// Runs the command to its end: (success, stdout, stderr). A command still running after
/// [`COMMAND_DEADLINE`] is killed and fails the test, so a wedge cannot hang the suite.
pub fn output(command: &mut Command) -> (bool, String, String) {
    output_within(command, COMMAND_DEADLINE)
}

/// [`output`] with a deadline of the caller's choosing.
pub fn output_within(command: &mut Command, limit: Duration) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let stdout = read_to_end_aside(child.stdout.take().expect("stdout"));
    let stderr = read_to_end_aside(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |reader: std::thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&reader.join().expect("reader")).into_owned()
    };
    (status.success(), text(stdout), text(stderr))
}

/// Reads a child's pipe on a thread, so a full pipe cannot stall the child.
fn read_to_end_aside(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Installs a Debian package with apt-get (as root; refreshing the package lists once when
/// the first try fails) for a test whose peer is missing, which then fails saying what is
/// missing rather than skip. The error is apt-get's complaint.
pub fn apt_get_install(package: &str) -> Result<(), String> {
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            // Other tests may be installing their peers at the same moment.
            .args(["-o", "DPkg::Lock::Timeout=300"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
    };
    let install = || apt(&["install", "-y", package]);
    let mut result = install();
    if !result.as_ref().is_ok_and(|o| o.status.success()) {
        let _ = apt(&["update"]);
        result = install();
    }
    match result {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// An HTTP client for talking to a test server: a request without an answer within 30 s
/// fails instead of hanging the suite.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A running server (or another long-running command, e.g. `worker`) whose stdout (JSON
/// log lines) is collected by a thread.
pub struct Server {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    pub addr: String,
}

impl Server {
    pub fn start(command: &mut Command) -> Self {
        let mut server = Self::spawn(command.args(["serve", "--listen", "127.0.0.1:0"]));
        let listening = server.wait_for_line(|l| l["message"] == "listening");
        server.addr = listening["addr"].as_str().expect("addr").to_owned();
        server
    }

    /// Runs `command` as given, collecting its log; it has no address.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let lines = line_channel(child.stdout.take().expect("stdout"));
        Self {
            child,
            lines,
            seen: Vec::new(),
            addr: String::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A fresh guest's access token.
    pub async fn guest_token(&self) -> String {
        let response = client()
            .post(self.url("/v1/auth/guest"))
            .send()
            .await
            .expect("guest sign-in");
        assert_eq!(response.status(), 201, "guest sign-in");
        let guest: serde_json::Value = response.json().await.expect("json");
        guest["access_token"].as_str().expect("token").to_owned()
    }

    /// A fresh guest who owns a new org named `name`: (access token, org id).
    pub async fn guest_with_org(&self, name: &str) -> (String, String) {
        let token = self.guest_token().await;
        let response = client()
            .post(self.url("/v1/orgs"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .expect("org");
        assert_eq!(response.status(), 201, "org created");
        let org: serde_json::Value = response.json().await.expect("json");
        let id = org["id"].as_str().expect("org id").to_owned();
        (token, id)
    }

    /// Waits up to 20 s for a log line matching `want`; every line must be JSON.
    pub fn wait_for_line(
        &mut self,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
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

    /// The log lines written so far, without waiting for more.
    pub fn lines_so_far(&mut self) -> &[String] {
        self.seen.extend(self.lines.try_iter());
        &self.seen
    }

    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
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

/// Runs `tenantbase migrate` in `dir` (embedded defaults) and opens the SQLite database it
/// made, so a test can fill it before starting the binary on it. Also returns its URL.
pub async fn migrated_sqlite(dir: &Path) -> (std::sync::Arc<dyn tenantbase_store::Store>, String) {
    let (ok, _, stderr) = output(tenantbase(dir).arg("migrate"));
    assert!(ok, "{stderr}");
    let url = format!("sqlite://{}", dir.join("data/tenantbase.db").display());
    let pool = tenantbase_store_sqlite::SqlitePoolConfig {
        max_readers: 2,
        acquire_timeout: Duration::from_secs(10),
        synchronous: Default::default(),
    };
    let store = tenantbase_store_sqlite::SqliteStore::connect(&url, pool)
        .await
        .expect("sqlite");
    (std::sync::Arc::new(store), url)
}

/// The lines a child prints on `stdout`, as they come, read on a thread of their own so
/// that waiting for one can have a deadline (`recv_timeout`).
pub fn line_channel(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// The text parts of the `.eml` files (the file mail transport) in `mail_dir` sent to
/// `to`, in the folder's order.
pub fn mail_texts_to(mail_dir: &Path, to: &str) -> Vec<String> {
    std::fs::read_dir(mail_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .filter_map(|raw| {
            let message = mail_parser::MessageParser::default().parse(&raw)?;
            let address = message.to()?.first()?.address()?.to_owned();
            let text = message.body_text(0)?.into_owned();
            (address == to).then_some(text)
        })
        .collect()
}
