//! Helpers for the backup tests: requests to the real server and what it answers,
//! rewriting an archive entry by entry (to damage it the ways the tests need) and
//! fingerprinting a folder.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::process::{Server, client};

pub const PASSWORD: &str = "correct horse battery staple";

/// Sends a request with `token`, expecting a 2xx: the JSON body (or `null`).
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client()
        .request(method.parse().expect("method"), server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answer");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn register(server: &Server, email: &str) -> Value {
    let response = client()
        .post(server.url("/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201, "register {email}");
    response.json().await.expect("json")
}

pub async fn upload(server: &Server, token: &str, org: &str, name: &str, bytes: &[u8]) -> String {
    let response = client()
        .post(server.url(&format!("/v1/orgs/{org}/files?name={name}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201, "upload {name}");
    let file: Value = response.json().await.expect("json");
    file["id"].as_str().expect("file id").to_owned()
}

pub async fn download(server: &Server, token: &str, org: &str, file: &str) -> Vec<u8> {
    let response = client()
        .get(server.url(&format!("/v1/orgs/{org}/files/{file}/content")))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200, "download {file}");
    response.bytes().await.expect("bytes").to_vec()
}

/// What the API answers about everything the test made, by route.
pub async fn answers(
    server: &Server,
    token: &str,
    org: &str,
    files: &[String],
) -> BTreeMap<String, Value> {
    let mut routes: Vec<String> = [
        "/v1/auth/me",
        "/v1/auth/sessions",
        "/v1/orgs",
        "/v1/orgs/{org}",
        "/v1/orgs/{org}/members",
        "/v1/orgs/{org}/roles",
        "/v1/orgs/{org}/projects?limit=100",
        "/v1/orgs/{org}/files?limit=100",
        "/v1/orgs/{org}/audit?limit=100",
        "/v1/orgs/{org}/audit/verify",
    ]
    .iter()
    .map(|route| route.replace("{org}", org))
    .collect();
    routes.extend(
        files
            .iter()
            .map(|file| format!("/v1/orgs/{org}/files/{file}")),
    );
    let mut found = BTreeMap::new();
    for route in routes {
        let mut answer = call(server, "GET", &route, token, None).await;
        if route == "/v1/auth/sessions" {
            // Using a session slides these forward; the session itself must be the same.
            for session in answer["items"].as_array_mut().expect("sessions") {
                let session = session.as_object_mut().expect("session");
                session.remove("last_seen_at");
                session.remove("expires_at");
            }
        }
        found.insert(route, answer);
    }
    found
}

/// [`answers`] once two readings 300 ms apart agree: the sealer has chained every event.
pub async fn settled_answers(
    server: &Server,
    token: &str,
    org: &str,
    files: &[String],
) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = answers(server, token, org, files).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = answers(server, token, org, files).await;
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the answers never settled");
        last = now;
    }
}

/// Bytes that are not all alike, so a misplaced range would show.
pub fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(2654435761)
                .wrapping_add(u64::from(seed)) as u8
        })
        .collect()
}

/// Changes one entry (name, bytes): renamed, altered, or dropped (`None`).
pub type Edit<'a> = &'a dyn Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>;

/// Writes `to`: `from`'s entries in order, each passed through `edit` (name, bytes), which
/// may rename, change or drop it (`None`). Names are written as given, `..` included, as
/// a hostile archive would carry them.
pub fn rewrite(from: &Path, to: &Path, edit: Edit<'_>) {
    let mut source = tar::Archive::new(GzDecoder::new(std::fs::File::open(from).expect("open")));
    let out = GzEncoder::new(
        std::fs::File::create(to).expect("create"),
        Compression::fast(),
    );
    let mut target = tar::Builder::new(out);
    for entry in source.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        let Some((name, bytes)) = edit(&name, bytes) else {
            continue;
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        let raw = &mut header.as_gnu_mut().expect("gnu").name;
        assert!(name.len() < raw.len(), "short names only: {name}");
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        target.append(&header, &bytes[..]).expect("append");
    }
    target.into_inner().expect("tar").finish().expect("gzip");
}

/// Every file under `dir` (path relative to it, `/`-separated) with its SHA-256.
pub fn data_digest(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(dir).expect("inside");
            let bytes = std::fs::read(entry.path()).expect("read");
            (
                relative.to_string_lossy().replace('\\', "/"),
                hex::encode(Sha256::digest(&bytes)),
            )
        })
        .collect()
}
