//! The container image's runtime contract (deploy/Dockerfile, the Helm chart's
//! securityContext), proved on the host since no container engine runs here: the real
//! binary as uid 65532 in a user namespace (bubblewrap), without capabilities, on a
//! read-only root filesystem where only `/data` is writable. It serves (`/ready`, sign-up,
//! an upload) and writes nothing outside `/data` — a writable decoy `/tmp` must stay
//! empty, so a binary that needed a temp dir would fail here — and with a read-only
//! `/data` it refuses to start, saying why. Both backends: the database in `/data`
//! (SQLite) or on PostgreSQL over loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::{BIN, Server, apt_get_install, client, output};

/// The image's user (deploy/Dockerfile `USER`, the chart's `runAsUser`).
const UID: &str = "65532";
const UPLOAD: &[u8] = b"written under /data and nowhere else\n";

#[tokio::test]
async fn serves_as_non_root_on_a_read_only_root_with_only_data_writable_on_sqlite() {
    serves_within_the_contract(None).await;
}

#[tokio::test]
async fn serves_as_non_root_on_a_read_only_root_with_only_data_writable_on_postgres() {
    let database = tenantbase_testkit::fresh_database().await;
    serves_within_the_contract(Some(&database.url)).await;
}

#[tokio::test]
async fn refuses_to_start_when_data_is_not_writable() {
    let sandbox = Sandbox::new();
    let (ok, stdout, stderr) =
        output(
            sandbox
                .command(Data::ReadOnly, None)
                .args(["serve", "--listen", "127.0.0.1:0"]),
        );
    assert!(!ok, "started without a writable /data: {stdout}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("/data"),
        "the refusal must name /data: {stderr}"
    );
    assert!(
        stderr.contains("Read-only file system"),
        "the refusal must say why: {stderr}"
    );
    assert!(
        !stdout.contains("\"message\":\"listening\""),
        "it listened before failing: {stdout}"
    );
    sandbox.assert_decoy_untouched();
}

async fn serves_within_the_contract(database_url: Option<&str>) {
    let sandbox = Sandbox::new();
    let mut server = Server::start(&mut sandbox.command(Data::Writable, database_url));
    let http = client();

    let ready = http.get(server.url("/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200, "/ready: {:?}", ready.text().await);

    let registered: Value = post(
        &server,
        "/v1/auth/register",
        None,
        json!({"email": "contract@example.com", "password": "runtime contract password"}),
    )
    .await;
    let token = registered["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let org: Value = post(
        &server,
        "/v1/orgs",
        Some(&token),
        json!({"name": "Contract"}),
    )
    .await;
    let org = org["id"].as_str().expect("org id");
    let uploaded = http
        .post(server.url(&format!("/v1/orgs/{org}/files?name=notes.txt")))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(UPLOAD)
        .send()
        .await
        .expect("upload");
    assert_eq!(
        uploaded.status(),
        201,
        "upload: {:?}",
        uploaded.text().await
    );
    let file: Value = uploaded.json().await.expect("json");
    let content = http
        .get(server.url(&format!(
            "/v1/orgs/{org}/files/{}/content",
            file["id"].as_str().expect("file id")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(content.bytes().await.expect("body").as_ref(), UPLOAD);

    // The verification email is written by a job: wait for it, so the job path ran too.
    let mail = wait_for(|| !files_under(&sandbox.data.path().join("mail")).is_empty());
    assert!(mail, "no .eml under /data/mail within 20 s");
    let written = files_under(sandbox.data.path());
    assert!(
        written
            .iter()
            .any(|path| std::fs::read(path).is_ok_and(|bytes| bytes == UPLOAD)),
        "the upload is not under /data: {written:?}"
    );
    assert!(sandbox.data.path().join("master.key").is_file());
    assert_eq!(
        sandbox.data.path().join("tenantbase.db").is_file(),
        database_url.is_none(),
        "SQLite lives in /data, and only when it is the backend"
    );
    sandbox.assert_decoy_untouched();

    let log = server.lines_so_far().join("\n");
    for sign in [
        "Read-only file system",
        "os error 30",
        "\"level\":\"ERROR\"",
    ] {
        assert!(!log.contains(sign), "the server logged `{sign}`:\n{log}");
    }
}

/// A temporary `/data` and the decoy `/tmp` for one sandboxed run.
struct Sandbox {
    bwrap: PathBuf,
    data: tempfile::TempDir,
    decoy: tempfile::TempDir,
}

#[derive(Clone, Copy)]
enum Data {
    Writable,
    ReadOnly,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            bwrap: bwrap(),
            data: tempfile::tempdir().expect("data dir"),
            decoy: tempfile::tempdir().expect("decoy dir"),
        }
    }

    /// `tenantbase` (arguments to follow) as the image runs it: uid/gid 65532 without
    /// capabilities, the system's directories read-only, the binary at /app, /data as
    /// asked, a writable decoy /tmp, then the whole root remounted read-only. Only the
    /// variables the image sets (plus the database) reach it.
    fn command(&self, data: Data, database_url: Option<&str>) -> Command {
        let mut command = Command::new(&self.bwrap);
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        command.env("TENANTBASE_DATA_DIR", "/data");
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        command.args(["--die-with-parent", "--unshare-user", "--unshare-pid"]);
        command.args(["--uid", UID, "--gid", UID]);
        for dir in ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"] {
            if Path::new(dir).exists() {
                command.args(["--ro-bind", dir, dir]);
            }
        }
        let data_bind = match data {
            Data::Writable => "--bind",
            Data::ReadOnly => "--ro-bind",
        };
        command
            .arg("--ro-bind")
            .arg(BIN)
            .arg("/app/tenantbase")
            .arg(data_bind)
            .arg(self.data.path())
            .arg("/data")
            .arg("--bind")
            .arg(self.decoy.path())
            .arg("/tmp")
            .args(["--dev", "/dev", "--proc", "/proc", "--chdir", "/data"])
            .args(["--remount-ro", "/", "/app/tenantbase"]);
        command
    }

    fn assert_decoy_untouched(&self) {
        let written = files_under(self.decoy.path());
        assert!(written.is_empty(), "wrote outside /data: {written:?}");
    }
}

async fn post(server: &Server, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = client().post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 201, "POST {path}");
    response.json().await.expect("json")
}

/// Every file and directory below `dir` (not `dir` itself).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

fn wait_for(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// bubblewrap that can make a user namespace here: found, or installed from Debian
/// (`apt-get install bubblewrap`, as root); otherwise the test fails saying what is missing.
fn bwrap() -> PathBuf {
    let works = || {
        Command::new("bwrap")
            .args([
                "--ro-bind",
                "/",
                "/",
                "--unshare-user",
                "--uid",
                UID,
                "true",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    };
    let mut detail = String::new();
    if !works().is_ok_and(|o| o.status.success())
        && Command::new("bwrap").arg("--version").output().is_err()
    {
        detail = apt_get_install("bubblewrap").err().unwrap_or_default();
    }
    match works() {
        Ok(out) if out.status.success() => PathBuf::from("bwrap"),
        Ok(out) => panic!(
            "bubblewrap cannot create a user namespace here (on Ubuntu: sysctl \
             kernel.apparmor_restrict_unprivileged_userns=0): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => panic!(
            "this test needs bubblewrap and could not install it (`apt-get install -y \
             bubblewrap`, as root, on Debian/Ubuntu): {error} {detail}"
        ),
    }
}
