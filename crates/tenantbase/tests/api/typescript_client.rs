//! The TypeScript client (clients/typescript) against the real binary: its example, compiled
//! with the pinned `tsc` and run with node, signs up, signs in, creates an org and a
//! project and lists projects over a socket, on both backends; and `tenantbase
//! permissions`, from which the client's catalog is generated, lists what the route does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::helpers::{Backend, TestApp};
use crate::process::{Server, client, output, output_within, tenantbase};
use crate::tenants::Caller;

const EXAMPLE: &str = "examples/sign-in-and-list-projects.js";
const PASSWORD: &str = "correct horse battery staple";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Installs the pinned packages (scripts/client-check --install) and compiles the client
/// and its examples to JavaScript, once per test run: both backends' tests share it, and
/// two `npm ci` runs at once into the same folder would trip over each other.
fn compiled_client() -> &'static Path {
    static COMPILED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        let repo = repo();
        // A cold install downloads ~40 packages; cached, it is a hash comparison.
        let (ok, stdout, stderr) = output_within(
            Command::new(repo.join("scripts/client-check")).arg("--install"),
            Duration::from_secs(360),
        );
        if !ok {
            return Err(format!(
                "scripts/client-check --install failed:\n{stdout}{stderr}"
            ));
        }
        let client = repo.join("clients/typescript");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript-client");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        // The compiled modules import openapi-fetch: node resolves it through this link, and
        // the package.json makes the emitted .js files ES modules, as in the client.
        std::os::unix::fs::symlink(client.join("node_modules"), out.join("node_modules"))
            .map_err(|e| format!("linking node_modules: {e}"))?;
        std::fs::write(out.join("package.json"), r#"{"type": "module"}"#)
            .map_err(|e| format!("package.json: {e}"))?;
        let (ok, stdout, stderr) = output_within(
            Command::new(client.join("node_modules/.bin/tsc"))
                .arg("-p")
                .arg(&client)
                .arg("--outDir")
                .arg(out.join("dist")),
            Duration::from_secs(180),
        );
        if !ok {
            return Err(format!("tsc failed:\n{stdout}{stderr}"));
        }
        Ok(out)
    });
    compiled.as_deref().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the compiled example against `server` as `email`: its stdout lines.
fn run_example(server: &Server, email: &str) -> Vec<String> {
    let dir = compiled_client();
    let (ok, stdout, stderr) = output_within(
        Command::new("node")
            .arg(dir.join("dist").join(EXAMPLE))
            .current_dir(dir)
            .env("TENANTBASE_URL", server.url(""))
            .env("TENANTBASE_EMAIL", email)
            .env("TENANTBASE_PASSWORD", PASSWORD),
        Duration::from_secs(60),
    );
    assert!(ok, "the example failed:\n{stdout}{stderr}");
    stdout.lines().map(str::to_owned).collect()
}

/// The words after `label` on the one line that starts with it.
fn line<'a>(lines: &'a [String], label: &str) -> Vec<&'a str> {
    let found: Vec<_> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
        .collect();
    assert_eq!(found.len(), 1, "one `{label}` line in {lines:?}");
    found[0].split(' ').collect()
}

async fn example_runs_against_the_server(postgres: bool) {
    let database = if postgres {
        Some(tenantbase_testkit::fresh_database().await)
    } else {
        None
    };
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    if let Some(database) = &database {
        command.env("DATABASE_URL", &database.url);
    }
    let mut server = Server::start(&mut command);
    let email = "ada@example.com";

    // First run: the account is new, so the example registers it.
    let first = run_example(&server, email);
    let user = line(&first, "registered")[0].to_owned();
    assert!(user.starts_with("usr_"), "{first:?}");
    let org = line(&first, "org")[0].to_owned();
    let project = line(&first, "project");
    assert_eq!(project[1], "Launch", "{first:?}");
    let project = project[0].to_owned();
    assert_eq!(line(&first, "listed"), [project.as_str(), "Launch"]);

    // Second run: the same account signs in; its new org lists only its own project.
    let second = run_example(&server, email);
    assert_eq!(line(&second, "signed in"), [user.as_str()]);
    let second_org = line(&second, "org")[0];
    assert_ne!(second_org, org, "a new org each run");
    let second_project = line(&second, "project")[0];
    assert_eq!(line(&second, "listed"), [second_project, "Launch"]);

    // What the example created is really there, seen by a client that is not the example.
    let http = client();
    let login: serde_json::Value = http
        .post(server.url("/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token");
    let response = http
        .get(server.url(&format!("/v1/orgs/{org}/projects/{project}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("project");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["name"], "Launch");
    assert_eq!(body["metadata"]["tier"], 1);
    assert_eq!(body["created_by"], user.as_str());

    server.terminate();
    assert!(server.wait_exit().success());
}

#[tokio::test]
async fn typescript_example_runs_against_the_server_on_sqlite() {
    example_runs_against_the_server(false).await;
}

#[tokio::test]
async fn typescript_example_runs_against_the_server_on_postgres() {
    example_runs_against_the_server(true).await;
}

#[tokio::test]
async fn the_permissions_command_prints_the_routes_catalog() {
    let dir = tempfile::tempdir().expect("dir");
    // Like `openapi`, it needs no configuration, database or keys.
    let (ok, stdout, stderr) = output(tenantbase(dir.path()).arg("permissions"));
    assert!(ok, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(!dir.path().join("data").exists(), "nothing written");

    // The catalog is code, not data: one backend shows the route's answer.
    let app = TestApp::new(Backend::Sqlite).await;
    let caller = Caller::guest(&app).await;
    let served = caller.get(&app, "/v1/permissions").await.json();
    assert_eq!(printed, served["items"]);
    assert!(
        printed
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["name"] == "projects:write" && p["description"].is_string())
    );
}
