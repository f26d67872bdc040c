//! The nginx example in `deploy/nginx` under a real nginx: `auth_request` against the real
//! binary's `/v1/auth/verify`, in front of a small app that echoes what it received.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use serde_json::{Value, json};

use crate::process::{Server, apt_get_install, tenantbase};

const EXAMPLE: &str = include_str!("../../../../deploy/nginx/tenantbase-gateway.conf");
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn nginx_auth_request_example_guards_the_app() {
    let nginx_bin = nginx_binary();
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(&mut tenantbase(dir.path()));
    let (app_addr, app_hits) = start_app().await;
    let nginx = Nginx::start(&nginx_bin, &server.addr, app_addr).await;
    let client = reqwest::Client::new();

    let registered: Value = client
        .post(server.url("/v1/auth/register"))
        .json(&json!({"email": "gateway@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("JSON");
    let token = registered["access_token"].as_str().expect("access token");
    let user_id = registered["user"]["id"].as_str().expect("user id");
    let me: Value = client
        .get(server.url("/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("JSON");
    let session_id = me["session_id"].as_str().expect("session id");
    assert!(user_id.starts_with("usr_") && session_id.starts_with("ses_"));

    // (a) A valid token: the app gets the request with the identity tenantbase vouched for.
    let response = client
        .get(nginx.url("/reports/42?page=2"))
        .bearer_auth(token)
        .send()
        .await
        .expect("through nginx");
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.expect("the app's echo");
    assert_eq!(seen["uri"], "/reports/42?page=2");
    assert_eq!(seen["user_id"], user_id);
    assert_eq!(seen["session_id"], session_id);
    assert_eq!(
        seen["org_id"],
        Value::Null,
        "the token is not bound to an org"
    );
    assert_eq!(app_hits.load(Ordering::SeqCst), 1);

    // (b) No token and (c) a garbage token: 401 with tenantbase's challenge, app untouched.
    let response = client
        .get(nginx.url("/reports/42"))
        .send()
        .await
        .expect("no token");
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = client
        .get(nginx.url("/reports/42"))
        .bearer_auth("x.y.z")
        .header("x-auth-user-id", user_id)
        .send()
        .await
        .expect("garbage token");
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(
        app_hits.load(Ordering::SeqCst),
        1,
        "denied requests never reach the app"
    );

    // (d) Forged identity headers next to a valid token: replaced or dropped by nginx.
    let response = client
        .get(nginx.url("/"))
        .bearer_auth(token)
        .header("x-auth-user-id", "usr_forged")
        .header("x-auth-session-id", "ses_forged")
        .header("x-auth-org-id", "org_forged")
        .send()
        .await
        .expect("forged headers");
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.expect("the app's echo");
    assert_eq!(seen["user_id"], user_id);
    assert_eq!(seen["session_id"], session_id);
    assert_eq!(
        seen["org_id"],
        Value::Null,
        "a forged org header is dropped"
    );

    // The subrequest location is not reachable from outside.
    let response = client
        .get(nginx.url("/_auth"))
        .bearer_auth(token)
        .send()
        .await
        .expect("internal location");
    assert_eq!(response.status(), 404);

    // Nothing is cached: once the session is revoked, the same token is refused.
    let logout = client
        .post(server.url("/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let response = client
        .get(nginx.url("/reports/42"))
        .bearer_auth(token)
        .send()
        .await
        .expect("revoked token");
    assert_eq!(response.status(), 401);
    assert_eq!(app_hits.load(Ordering::SeqCst), 2);

    drop(nginx);
}

/// The app behind the gateway: answers every request with the identity headers it got.
async fn start_app() -> (SocketAddr, Arc<AtomicUsize>) {
    async fn echo(
        State(hits): State<Arc<AtomicUsize>>,
        uri: Uri,
        headers: HeaderMap,
    ) -> Json<Value> {
        hits.fetch_add(1, Ordering::SeqCst);
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Json(json!({
            "uri": uri.to_string(),
            "user_id": header("x-auth-user-id"),
            "session_id": header("x-auth-session-id"),
            "org_id": header("x-auth-org-id"),
        }))
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the app");
    let addr = listener.local_addr().expect("app address");
    let app = axum::Router::new()
        .fallback(echo)
        .with_state(Arc::clone(&hits));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the app serves") });
    (addr, hits)
}

/// The nginx binary, installed from Debian's package when missing; never skipped.
fn nginx_binary() -> PathBuf {
    let find = || {
        ["nginx", "/usr/sbin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|bin| {
                Command::new(bin)
                    .arg("-v")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    };
    if let Some(bin) = find() {
        return bin;
    }
    let detail = apt_get_install("nginx").err().unwrap_or_default();
    find().unwrap_or_else(|| {
        panic!(
            "this test needs nginx with auth_request and could not install it \
             (`apt-get install -y nginx`, as root, on Debian/Ubuntu): {detail}"
        )
    })
}

/// A foreground nginx with everything it writes inside a temp dir; killed on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(bin: &Path, tenantbase: &str, app: SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("nginx dir");
        let addr = free_port();
        let root = dir.path().display().to_string();
        let site = substitute(
            EXAMPLE,
            &[
                ("server 127.0.0.1:8080;", &format!("server {tenantbase};")),
                ("server 127.0.0.1:9000;", &format!("server {app};")),
                ("listen 80;", &format!("listen {addr};")),
            ],
        );
        // As root the master drops its workers to the compiled-in user (Debian: nobody),
        // which cannot enter the 0700 temp dir where large bodies are buffered; run them as
        // the test's own user instead (root here).
        let running_as_root = dir.path().metadata().expect("stat").uid() == 0;
        let user = if running_as_root { "user root;" } else { "" };
        let config = format!(
            "{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
{site}
}}
"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Self { child, addr, dir };
        nginx.wait_until_accepting().await;
        nginx
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    async fn wait_until_accepting(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("nginx status") {
                panic!("nginx exited ({status}): {}", self.error_log());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not accept on {} within 10 s: {}",
                self.addr,
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master, which stops its workers; a SIGKILL would orphan them,
        // still holding the port. SIGKILL only when it does not exit within 5 s.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces each placeholder, which must occur exactly once: a changed example fails
/// here rather than being tested half-substituted.
fn substitute(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in pairs {
        assert_eq!(
            out.matches(from).count(),
            1,
            "placeholder {from:?} in the example"
        );
        out = out.replace(from, to);
    }
    out
}

fn free_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind")
        .local_addr()
        .expect("address")
}
