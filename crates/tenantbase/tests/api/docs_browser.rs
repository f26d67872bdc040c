//! `/docs` in a real browser: headless Chromium (Debian's package, installed by the test
//! when missing) loads the page from the real server, runs Swagger UI under our
//! Content-Security-Policy, and renders an operation for every route.

use std::process::Command;
use std::time::Duration;

use crate::process::{Server, tenantbase};

/// Chromium's path, installing Debian's package first if it is missing.
fn chromium() -> String {
    let found = || {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|path| std::path::Path::new(path).is_file())
    };
    if let Some(path) = found() {
        return path.to_owned();
    }
    let install = |args: &[&str]| {
        Command::new("apt-get")
            // Other tests may be installing their peers at the same moment.
            .args(["-o", "DPkg::Lock::Timeout=300"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !install(&["install", "-y", "chromium"]) {
        let _ = install(&["update"]);
        install(&["install", "-y", "chromium"]);
    }
    found()
        .unwrap_or_else(|| {
            panic!(
                "Chromium is needed for the /docs browser test: `apt-get install chromium` failed"
            )
        })
        .to_owned()
}

#[test]
fn swagger_ui_renders_every_operation_in_chromium() {
    let browser = chromium();
    let dir = tempfile::tempdir().expect("dir");
    let profile = tempfile::tempdir().expect("profile");
    let server = Server::start(&mut tenantbase(dir.path()));
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(server.url("/docs/"));
    let output = run_bounded(&mut command, Duration::from_secs(90));
    let dom = String::from_utf8_lossy(&output);
    for path in [
        "/health",
        "/ready",
        "/v1/auth/login",
        "/v1/auth/sessions/{id}",
        "/.well-known/jwks.json",
    ] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "Swagger UI did not render {path}"
        );
    }
}

/// Runs `command` to completion or kills it after `limit`; returns its stdout.
fn run_bounded(command: &mut Command, limit: Duration) -> Vec<u8> {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buffer);
        buffer
    });
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}
