//! Clients that hang up mid-request, against the real binary on both backends: a storm of
//! writes cut at every moment leaves the store able to write, every acknowledged write
//! present and the audit chains whole; under a mixed load where a third of the clients
//! hang up, the clients that stay see no 5xx and never another org's rows.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::process::{Server, output, tenantbase};

/// A per-client pseudo-random number (splitmix64): varied moments, reproducible runs.
fn spread(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The server under test, with its database: SQLite in the temp folder or a fresh
/// PostgreSQL database. Auth rate limits are lifted: every client here is 127.0.0.1. The
/// pool waits long: these tests look for wedged or poisoned connections, not capacity, and
/// a debug build beside the rest of the suite on two cores is slow.
pub(crate) struct Target {
    pub(crate) server: Server,
    pub(crate) dir: tempfile::TempDir,
    database_url: Option<String>,
    _database: Option<tenantbase_testkit::TestDatabase>,
}

impl Target {
    pub(crate) async fn start(postgres: bool) -> Self {
        let database = if postgres {
            Some(tenantbase_testkit::fresh_database().await)
        } else {
            None
        };
        let database_url = database.as_ref().map(|db| db.url.clone());
        let dir = tempfile::tempdir().expect("dir");
        let server = Server::start(&mut serve_command(dir.path(), database_url.as_deref()));
        Self {
            server,
            dir,
            database_url,
            _database: database,
        }
    }

    /// Kills the server with SIGKILL and starts another on the same data.
    pub(crate) fn kill_and_restart(&mut self) {
        self.server.child.kill().expect("SIGKILL");
        self.server.child.wait().expect("reaped");
        self.server = Server::start(&mut serve_command(
            self.dir.path(),
            self.database_url.as_deref(),
        ));
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// `tenantbase audit verify` on the same database: (succeeded, stdout, stderr).
    pub(crate) fn audit_verify(&self) -> (bool, String, String) {
        let mut command = tenantbase(self.dir.path());
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        output(command.args(["audit", "verify"]))
    }

    /// `tenantbase audit verify` on the same database succeeds.
    pub(crate) fn assert_audit_chains_verify(&self) {
        let (ok, stdout, stderr) = self.audit_verify();
        assert!(ok, "audit chains broken:\n{stdout}\n{stderr}");
    }

    /// Every line the server logged up to a marker request carries no ERROR.
    async fn assert_no_error_logged(&mut self) {
        let marker = format!("hangups-marker-{}", std::process::id());
        // Not a probe: successful probes are not logged by default.
        reqwest::Client::new()
            .get(self.url("/"))
            .header("x-request-id", &marker)
            .send()
            .await
            .expect("marker request");
        self.server
            .wait_for_line(|l| l["message"] == "request" && l["span"]["request_id"] == marker);
        let errors: Vec<&String> = self
            .server
            .seen
            .iter()
            .filter(|line| line.contains("\"level\":\"ERROR\""))
            .collect();
        assert!(errors.is_empty(), "ERROR lines logged: {errors:#?}");
    }
}

/// `serve` on `dir`'s data (or on PostgreSQL at `database_url`), with limits that let a
/// storm through.
fn serve_command(dir: &std::path::Path, database_url: Option<&str>) -> std::process::Command {
    let mut command = tenantbase(dir);
    command
        .env("TENANTBASE_AUTH__RATE_LIMIT_PER_MINUTE", "1000000")
        .env("TENANTBASE_DATABASE__ACQUIRE_TIMEOUT_MS", "20000");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

/// A client that gives up after `patience`.
fn client_waiting(patience: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(patience)
        .build()
        .expect("client")
}

/// Writes after a storm must succeed within 5 s.
pub(crate) fn client() -> reqwest::Client {
    client_waiting(Duration::from_secs(5))
}

pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request answered within 5 s");
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.expect("json")
}

/// One raw HTTP/1.1 request (`Connection: close`), sent whole or cut after `send_bytes`
/// of its body.
pub(crate) struct RawRequest {
    head: String,
    body: Vec<u8>,
    send_bytes: usize,
}

impl RawRequest {
    pub(crate) fn new(
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Self {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
             content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let send_bytes = body.len();
        Self {
            head,
            body,
            send_bytes,
        }
    }

    pub(crate) fn cut_at(mut self, bytes: usize) -> Self {
        self.send_bytes = bytes.min(self.body.len());
        self
    }
}

/// Sends the request, waits at most `patience` for the whole answer, then hangs up.
/// Returns the answer's status and JSON body when it came in time.
pub(crate) async fn send_and_hang_up(
    addr: &str,
    request: RawRequest,
    patience: Duration,
) -> Option<(u16, Value)> {
    let mut socket = TcpStream::connect(addr).await.ok()?;
    socket.write_all(request.head.as_bytes()).await.ok()?;
    socket
        .write_all(&request.body[..request.send_bytes])
        .await
        .ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(patience, socket.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

const STORM_CLIENTS: u64 = 1_000;

async fn storm_of_hangups_leaves_the_store_writable(postgres: bool) {
    let mut target = Target::start(postgres).await;
    let (token, org) = target.server.guest_with_org("Storm").await;
    let addr = target.server.addr.clone();

    let slots = Arc::new(Semaphore::new(100));
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..STORM_CLIENTS {
        let roll = spread(i);
        let request = match i % 3 {
            0 => RawRequest::new(
                "POST",
                "/v1/auth/guest",
                "",
                "application/json",
                b"{}".into(),
            ),
            1 => RawRequest::new(
                "POST",
                &format!("/v1/orgs/{org}/projects"),
                &token,
                "application/json",
                json!({"name": format!("storm {i}")}).to_string().into(),
            ),
            _ => RawRequest::new(
                "POST",
                &format!("/v1/orgs/{org}/files?name=cut-{i}.bin"),
                &token,
                "application/octet-stream",
                vec![7u8; 256 * 1024],
            )
            .cut_at((roll % (256 * 1024)) as usize),
        };
        // From "gone at once" to "waited for the answer", across every await in between;
        // one in four waits for it.
        let patience = match roll % 4 {
            0 => Duration::from_secs(5),
            _ => Duration::from_micros(roll % 60_000),
        };
        let (addr, slots) = (addr.clone(), slots.clone());
        clients.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            (i % 3, send_and_hang_up(&addr, request, patience).await)
        });
    }
    let (mut guests, mut projects) = (Vec::new(), Vec::new());
    while let Some(outcome) = clients.join_next().await {
        match outcome.expect("client task") {
            (0, Some((201, body))) => guests.push(body["access_token"].as_str().map(str::to_owned)),
            (1, Some((201, body))) => projects.push(body["id"].as_str().map(str::to_owned)),
            // Under the storm a full queue may shed load (503); nothing may break (500).
            (_, Some((status, body))) => {
                assert!(
                    status < 500 || status == 503,
                    "a client that waited got {status}: {body}"
                );
            }
            (_, None) => {}
        }
    }

    // The store writes again at once: every kind of write, each within 5 s.
    let client = client();
    for n in 0..10 {
        post_json(&client, target.url("/v1/auth/guest"), "", json!({})).await;
        let path = format!("/v1/orgs/{org}/projects");
        post_json(
            &client,
            target.url(&path),
            &token,
            json!({"name": format!("after {n}")}),
        )
        .await;
        let upload = client
            .post(target.url(&format!("/v1/orgs/{org}/files?name=after-{n}.txt")))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(format!("written after the storm, {n}"))
            .send()
            .await
            .expect("upload answered within 5 s");
        assert_eq!(upload.status(), 201, "{:?}", upload.text().await);
    }
    let ready = client
        .get(target.url("/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200, "{:?}", ready.text().await);

    // Every acknowledged write is there.
    assert!(
        !projects.is_empty() && !guests.is_empty(),
        "some clients waited for their answer ({} projects, {} guests)",
        projects.len(),
        guests.len()
    );
    for id in projects {
        let id = id.expect("an acknowledged project has an id");
        let got = client
            .get(target.url(&format!("/v1/orgs/{org}/projects/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(got.status(), 200, "acknowledged project {id} is missing");
    }
    for guest in guests {
        let me = client
            .get(target.url("/v1/auth/me"))
            .bearer_auth(guest.expect("an acknowledged guest has a token"))
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), 200, "an acknowledged guest is missing");
    }
    target.assert_audit_chains_verify();
    target.assert_no_error_logged().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_hangups_leaves_sqlite_writable() {
    storm_of_hangups_leaves_the_store_writable(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_hangups_leaves_postgres_writable() {
    storm_of_hangups_leaves_the_store_writable(true).await;
}

const MIXED_LOAD: Duration = Duration::from_secs(30);

/// One org's clients for the mixed load: what the ones that stayed saw.
#[derive(Default)]
struct Seen {
    requests: u64,
    server_errors: Vec<String>,
    foreign_rows: Vec<String>,
}

/// A client that stays: reads (checking every row is its org's) and writes until the end.
async fn stay(target_url: String, org: String, token: String, marker: String, seed: u64) -> Seen {
    let client = client_waiting(Duration::from_secs(25));
    let mut seen = Seen::default();
    let projects = format!("{target_url}/v1/orgs/{org}/projects");
    let end = Instant::now() + MIXED_LOAD;
    let mut n = seed;
    while Instant::now() < end {
        n = spread(n);
        let response = if n.is_multiple_of(3) {
            client
                .post(&projects)
                .bearer_auth(&token)
                .json(&json!({"name": format!("{marker} {n}")}))
                .send()
                .await
        } else {
            client
                .get(format!("{projects}?limit=50"))
                .bearer_auth(&token)
                .send()
                .await
        };
        seen.requests += 1;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                seen.server_errors.push(format!("no answer: {error}"));
                continue;
            }
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_server_error() {
            seen.server_errors.push(format!("{status}: {body}"));
        }
        for item in body["items"].as_array().into_iter().flatten() {
            let name = item["name"].as_str().unwrap_or_default();
            if !name.starts_with(&marker) {
                seen.foreign_rows.push(name.to_owned());
            }
        }
    }
    seen
}

/// A client that hangs up at random moments, reading or writing, until the end.
async fn hang_up_repeatedly(addr: String, org: String, token: String, marker: &str, seed: u64) {
    let end = Instant::now() + MIXED_LOAD;
    let mut n = seed;
    while Instant::now() < end {
        n = spread(n);
        let request = if n.is_multiple_of(2) {
            RawRequest::new(
                "POST",
                &format!("/v1/orgs/{org}/projects"),
                &token,
                "application/json",
                json!({"name": format!("{marker} hung up {n}")})
                    .to_string()
                    .into(),
            )
        } else {
            RawRequest::new(
                "GET",
                &format!("/v1/orgs/{org}/projects?limit=50"),
                &token,
                "application/json",
                Vec::new(),
            )
        };
        send_and_hang_up(&addr, request, Duration::from_micros(n % 20_000)).await;
    }
}

async fn mixed_load_with_hangups(postgres: bool) {
    let mut target = Target::start(postgres).await;
    let orgs = [
        target.server.guest_with_org("Left").await,
        target.server.guest_with_org("Right").await,
    ];
    let mut stayers = tokio::task::JoinSet::new();
    let mut leavers = tokio::task::JoinSet::new();
    for (side, (token, org)) in orgs.iter().enumerate() {
        // Every project of an org, whoever wrote it, starts with the org's marker.
        let marker = ["Left", "Right"][side];
        for i in 0..12u64 {
            let seed = (side as u64) << 32 | i;
            if i.is_multiple_of(3) {
                let (token, org) = (token.clone(), org.clone());
                let addr = target.server.addr.clone();
                leavers.spawn(hang_up_repeatedly(addr, org, token, marker, seed));
            } else {
                let url = target.url("");
                let (token, org) = (token.clone(), org.clone());
                stayers.spawn(stay(url, org, token, marker.to_owned(), seed));
            }
        }
    }
    let mut requests = 0;
    let mut problems = Vec::new();
    let mut foreign = HashSet::new();
    while let Some(seen) = stayers.join_next().await {
        let seen = seen.expect("client task");
        requests += seen.requests;
        problems.extend(seen.server_errors);
        foreign.extend(seen.foreign_rows);
    }
    while leavers.join_next().await.is_some() {}
    assert!(
        problems.is_empty(),
        "clients that stayed got: {problems:#?}"
    );
    assert!(foreign.is_empty(), "reads saw other rows: {foreign:?}");
    assert!(requests >= 100, "the load ran ({requests} requests)");
    target.assert_audit_chains_verify();
    target.assert_no_error_logged().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_with_hangups_on_sqlite() {
    mixed_load_with_hangups(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_with_hangups_on_postgres() {
    mixed_load_with_hangups(true).await;
}
