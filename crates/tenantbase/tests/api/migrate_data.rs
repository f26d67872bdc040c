//! `tenantbase migrate-data`: a SQLite deployment seeded through the real binary's API is
//! copied to PostgreSQL (and its files to S3 on moto) by the real command, and the same
//! binary on PostgreSQL answers the same. Resumption and refusals: `migrate_data_resume`.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tenantbase_testkit::{emulators, fresh_database};

use crate::process::{Server, client, mail_texts_to, output, tenantbase};

/// The S3 bucket (on moto) the files move to.
const BUCKET: &str = "moved-files";

/// The real server's API, called with a bearer token.
pub(crate) struct Api<'a> {
    pub server: &'a Server,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut request = client()
            .request(method.clone(), self.server.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON")
        }
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A registered account's sign-in answer (tokens and user).
    async fn register(&self, email: &str) -> Value {
        let response = client()
            .post(self.server.url("/v1/auth/register"))
            .json(&json!({"email": email, "password": "correct horse battery staple"}))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201, "register {email}");
        response.json().await.expect("JSON")
    }

    async fn upload(&self, org: &str, token: &str, name: &str, bytes: &'static [u8]) -> String {
        let response = client()
            .post(
                self.server
                    .url(&format!("/v1/orgs/{org}/files?name={name}")),
            )
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "upload {name}");
        let file: Value = response.json().await.expect("JSON");
        file["id"].as_str().expect("file id").to_owned()
    }
}

/// The token in the newest mailed link `…/{link}?token=…` to `to`, from the `.eml` files
/// the embedded mail sender writes; waits up to 20 s for the mail job to run.
fn mailed_token(dir: &Path, to: &str, link: &str) -> String {
    let needle = format!("{link}?token=");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = mail_texts_to(&dir.join("data/mail"), to)
            .into_iter()
            .find_map(|text| {
                let start = text.find(&needle)? + needle.len();
                Some(
                    text[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                        .collect::<String>(),
                )
            });
        if let Some(token) = found {
            return token;
        }
        assert!(Instant::now() < deadline, "no {link} mail to {to}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a seeded deployment holds: tokens issued on SQLite and the paths to compare.
pub(crate) struct Seeded {
    owner: String,
    member: String,
    org: String,
    /// GET paths, each with the token to read it with.
    reads: Vec<(String, String)>,
    /// File content paths, compared byte for byte.
    pub contents: Vec<String>,
}

/// Two accounts (one verified owner, one invited member), an org with a custom role, a
/// pending invitation, projects, files, several sessions and the events all that records.
pub(crate) async fn seed(server: &Server, dir: &Path) -> Seeded {
    let api = Api { server };
    let owner = api.register("owner@example.com").await;
    let owner_token = owner["access_token"].as_str().expect("token").to_owned();
    let verify = mailed_token(dir, "owner@example.com", "verify-email");
    api.post(
        "/v1/auth/email/verify",
        &owner_token,
        json!({"token": verify}),
    )
    .await;
    // A second session of the owner.
    let login = client()
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);

    let org = api
        .post("/v1/orgs", &owner_token, json!({"name": "Acme"}))
        .await["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    let o = format!("/v1/orgs/{org}");
    let role = api
        .post(
            &format!("{o}/roles"),
            &owner_token,
            json!({"name": "auditor", "description": "Reads the log", "permissions": ["audit:read"]}),
        )
        .await["id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let member = api.register("member@example.com").await;
    let member_token = member["access_token"].as_str().expect("token").to_owned();
    let verify = mailed_token(dir, "member@example.com", "verify-email");
    api.post(
        "/v1/auth/email/verify",
        &member_token,
        json!({"token": verify}),
    )
    .await;
    api.post(
        &format!("{o}/invitations"),
        &owner_token,
        json!({"email": "member@example.com", "roles": ["member"]}),
    )
    .await;
    let invitation = mailed_token(dir, "member@example.com", "accept-invitation");
    api.post(
        "/v1/invitations/accept",
        &member_token,
        json!({"token": invitation}),
    )
    .await;
    api.post(
        &format!("{o}/invitations"),
        &owner_token,
        json!({"email": "later@example.com"}),
    )
    .await;

    let mut reads = vec![
        "/v1/auth/me".to_owned(),
        "/v1/auth/sessions".to_owned(),
        "/v1/orgs".to_owned(),
        o.clone(),
        format!("{o}/me"),
        format!("{o}/members"),
        format!("{o}/roles"),
        format!("{o}/roles/{role}"),
        format!("{o}/invitations"),
        format!("{o}/projects"),
        format!("{o}/files"),
        format!("{o}/audit"),
        format!("{o}/audit/verify"),
    ];
    for i in 0..5 {
        let project = api
            .post(
                &format!("{o}/projects"),
                &owner_token,
                json!({"name": format!("Project {i}"), "description": "launch", "metadata": {"tier": i, "ok": i % 2 == 0}}),
            )
            .await;
        reads.push(format!(
            "{o}/projects/{}",
            project["id"].as_str().expect("id")
        ));
    }
    let mut contents = Vec::new();
    for (name, bytes) in [
        ("notes.txt", &b"the notes"[..]),
        ("plan.txt", &b"the plan, longer"[..]),
    ] {
        let file = api.upload(&org, &owner_token, name, bytes).await;
        reads.push(format!("{o}/files/{file}"));
        contents.push(format!("{o}/files/{file}/content"));
    }
    let mut reads: Vec<(String, String)> = reads
        .into_iter()
        .map(|path| (path, owner_token.clone()))
        .collect();
    for path in ["/v1/auth/me", "/v1/orgs", "/v1/auth/sessions"] {
        reads.push((path.to_owned(), member_token.clone()));
    }
    reads.push((format!("{o}/me"), member_token.clone()));
    Seeded {
        owner: owner_token,
        member: member_token,
        org,
        reads,
        contents,
    }
}

/// Every seeded read's answer and every file's bytes, as the server gives them now, read
/// with the tokens issued at seeding.
pub(crate) async fn answers(server: &Server, seeded: &Seeded) -> Vec<(String, Value)> {
    let api = Api { server };
    let mut out = Vec::new();
    for (path, token) in &seeded.reads {
        out.push((path.clone(), api.get(path, token).await));
    }
    for path in &seeded.contents {
        let response = client()
            .get(server.url(path))
            .bearer_auth(&seeded.owner)
            .send()
            .await
            .expect("content");
        assert_eq!(response.status(), 200, "{path}");
        let bytes = response.bytes().await.expect("bytes");
        out.push((path.clone(), json!(String::from_utf8_lossy(&bytes))));
    }
    out
}

/// `value` with every timestamp cut to microseconds, PostgreSQL's precision (SQLite keeps
/// what it is given, down to nanoseconds).
fn to_micros(value: Value) -> Value {
    match value {
        Value::String(text) => match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(time) => json!(chrono::SubsecRound::trunc_subsecs(time.to_utc(), 6)),
            Err(_) => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(to_micros).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key, to_micros(value)))
                .collect(),
        ),
        other => other,
    }
}

/// `value` without the reading session's own activity: using a session slides its
/// `last_seen_at` and `expires_at` once it is a minute old, which a slow run (an emulator
/// installed on first use) reaches between the reads on either side of the move.
fn without_own_activity(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(without_own_activity).collect()),
        Value::Object(mut fields) => {
            if fields.get("current") == Some(&json!(true)) {
                fields.remove("last_seen_at");
                fields.remove("expires_at");
            }
            Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key, without_own_activity(value)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// Fails unless the moved deployment answers every seeded read (and file) as SQLite did.
pub(crate) fn assert_same_answers(before: &[(String, Value)], after: &[(String, Value)]) {
    assert_eq!(before.len(), after.len());
    let comparable = |value: &Value| without_own_activity(to_micros(value.clone()));
    for ((path, was), (_, is)) in before.iter().zip(after) {
        assert_eq!(
            comparable(was),
            comparable(is),
            "{path} answers the same on PostgreSQL"
        );
    }
}

/// `tenantbase migrate-data --to URL …` in `dir`: (success, stdout, stderr).
pub(crate) fn migrate_data(dir: &Path, url: &str, extra: &[&str]) -> (bool, String, String) {
    output(
        tenantbase(dir)
            .args(["migrate-data", "--to", url])
            .args(extra),
    )
}

/// Runs the SQLite server in `dir`, lets `fill` seed it, then stops it cleanly.
pub(crate) async fn with_sqlite_server<T>(dir: &Path, fill: impl AsyncFnOnce(&Server) -> T) -> T {
    let mut server = Server::start(&mut tenantbase(dir));
    let seeded = fill(&server).await;
    server.terminate();
    assert!(server.wait_exit().success());
    seeded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgres_and_answers_the_same() {
    let dir = tempfile::tempdir().expect("dir");
    let seeded =
        with_sqlite_server(dir.path(), async |server| seed(server, dir.path()).await).await;
    // Read at rest, after the server sealed its events on the way out.
    let before =
        with_sqlite_server(dir.path(), async |server| answers(server, &seeded).await).await;
    let (ok, verified_sqlite, stderr) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok, "{verified_sqlite}{stderr}");
    let list_jobs = ["jobs", "list", "--limit", "1000"];
    let (ok, jobs_sqlite, stderr) = output(tenantbase(dir.path()).args(list_jobs));
    assert!(
        ok && jobs_sqlite.contains("mail.send"),
        "{jobs_sqlite}{stderr}"
    );

    let database = fresh_database().await;
    let moto = emulators::moto();
    moto.create_bucket(BUCKET);
    // The target store's settings other than its name, as the new deployment reads them.
    let s3 = |command: &mut std::process::Command| {
        command
            .env("TENANTBASE_FILES__S3__ENDPOINT", &moto.url)
            .env("TENANTBASE_FILES__S3__PATH_STYLE", "true")
            .env("TENANTBASE_FILES__S3__ACCESS_KEY_ID", "AKIDTENANTBASE")
            .env("TENANTBASE_FILES__S3__SECRET_ACCESS_KEY", "not-a-secret");
    };
    let files_to = format!("s3://{BUCKET}");
    let copy = |extra: &[&str]| {
        let mut command = tenantbase(dir.path());
        s3(&mut command);
        output(
            command
                .args([
                    "migrate-data",
                    "--to",
                    &database.url,
                    "--files-to",
                    &files_to,
                ])
                .args(extra),
        )
    };
    let (ok, stdout, stderr) = copy(&["--batch-size", "3"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("rows/s") && stdout.contains("ETA"),
        "{stdout}"
    );
    assert!(stdout.contains("row counts match"), "{stdout}");
    assert!(stdout.contains("files: 2 objects copied"), "{stdout}");

    let on_postgres = |command: &mut std::process::Command| {
        s3(command);
        command
            .env("DATABASE_URL", &database.url)
            .env("TENANTBASE_FILES__BACKEND", "s3")
            .env("TENANTBASE_FILES__S3__BUCKET", BUCKET);
    };
    let mut verify = tenantbase(dir.path());
    on_postgres(&mut verify);
    let (ok, verified_pg, stderr) = output(verify.args(["audit", "verify"]));
    assert!(ok, "{verified_pg}{stderr}");
    assert_eq!(
        verified_pg, verified_sqlite,
        "the same chains verify on both"
    );
    assert!(
        verified_pg.contains(&format!("{}: ok", seeded.org)),
        "{verified_pg}"
    );

    // The job queue moved: the mail jobs the seeding queued, with their states.
    let mut jobs = tenantbase(dir.path());
    on_postgres(&mut jobs);
    let (ok, jobs_pg, stderr) = output(jobs.args(list_jobs));
    assert!(ok, "{stderr}");
    assert_eq!(jobs_pg, jobs_sqlite);

    let mut serve = tenantbase(dir.path());
    on_postgres(&mut serve);
    let server = Server::start(&mut serve);
    // Tokens issued on SQLite before the move are accepted: the signing keys moved.
    assert_same_answers(&before, &answers(&server, &seeded).await);
    // The moved deployment takes writes: new rows, events and jobs after the copied ones.
    let api = Api { server: &server };
    let org = &seeded.org;
    api.post(
        &format!("/v1/orgs/{org}/projects"),
        &seeded.member,
        json!({"name": "After the move"}),
    )
    .await;
    let audit = api
        .get(&format!("/v1/orgs/{org}/audit"), &seeded.owner)
        .await;
    assert!(audit.to_string().contains("project.created"), "{audit}");

    // Running it again has nothing left to do.
    let (ok, stdout, stderr) = copy(&[]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("already complete"), "{stdout}");
    assert!(
        stdout.contains("0 objects copied (0 bytes), 2 already there"),
        "{stdout}"
    );
}
