//! Config hot reload of the real binary: SIGHUP and the config file watcher change the
//! auth rate limit and the log level of a running server, whose open keep-alive
//! connection goes on being served; a file that does not parse or validate is refused
//! and the running values stay; keys that need a restart are named and ignored.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::process::{Server, client, mail_texts_to, tenantbase};

/// One HTTP/1.1 keep-alive connection, spoken by hand so that the test knows every
/// request went over the same socket.
struct Connection(BufReader<TcpStream>);

impl Connection {
    async fn open(server: &Server) -> Self {
        Self(BufReader::new(
            TcpStream::connect(&server.addr).await.expect("connect"),
        ))
    }

    /// POSTs a refresh with a token that does not exist: 401 while the client's auth
    /// budget lasts, 429 after. Each answer is read whole, so the socket stays usable.
    async fn refresh(&mut self) -> u16 {
        let body = r#"{"refresh_token":"not-a-token"}"#;
        let request = format!(
            "POST /v1/auth/refresh HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = async {
            self.0.get_mut().write_all(request.as_bytes()).await?;
            let mut status_line = String::new();
            self.0.read_line(&mut status_line).await?;
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                self.0.read_line(&mut header).await?;
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            self.0.read_exact(&mut body).await?;
            std::io::Result::Ok(status_line)
        };
        let status_line = tokio::time::timeout(Duration::from_secs(20), answer)
            .await
            .expect("an answer within 20 s")
            .expect("the connection is still open");
        status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"))
    }
}

fn write_config(path: &Path, rate_limit: u32, extra: &str) {
    std::fs::write(
        path,
        format!("{extra}\n[auth]\nrate_limit_per_minute = {rate_limit}\n"),
    )
    .expect("write config");
}

fn hang_up(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn start(dir: &Path, config: &Path, database: Option<&str>) -> Server {
    let mut command = tenantbase(dir);
    command
        .arg("--config")
        .arg(config)
        .env("TENANTBASE_JOBS__WORKERS", "0");
    if let Some(url) = database {
        command.env("DATABASE_URL", url);
    }
    Server::start(&mut command)
}

async fn sighup_changes_the_rate_limit_on_an_open_connection(postgres: bool) {
    let database = if postgres {
        Some(tenantbase_testkit::fresh_database().await)
    } else {
        None
    };
    let dir = tempfile::tempdir().expect("dir");
    // The server reads its file through a symlink in a folder of its own, as with a
    // Kubernetes config map: edits to the target are invisible to the watcher, so each
    // reload here is the signal's.
    let (linked, config) = (dir.path().join("etc"), dir.path().join("real"));
    std::fs::create_dir_all(&linked).expect("mkdir");
    std::fs::create_dir_all(&config).expect("mkdir");
    let config = config.join("tenantbase.toml");
    write_config(&config, 1000, "");
    std::os::unix::fs::symlink(&config, linked.join("tenantbase.toml")).expect("symlink");
    let mut server = start(
        dir.path(),
        &linked.join("tenantbase.toml"),
        database.as_ref().map(|d| d.url.as_str()),
    );
    let mut connection = Connection::open(&server).await;
    for _ in 0..5 {
        assert_eq!(connection.refresh().await, 401, "within the budget of 1000");
    }

    // An invalid value: refused, and the budget of 1000 stays.
    write_config(&config, 1000, "[http]\nready_timeout_ms = 5000\n");
    hang_up(&server);
    let refused = server.wait_for_line(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("config reload rejected"))
    });
    assert_eq!(refused["level"], "ERROR");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("http.ready_timeout_ms")),
        "{refused}"
    );
    write_config(&config, 2, "shutdown_timeout_secs = 5\nnot a toml line\n");
    hang_up(&server);
    server.wait_for_line(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("config reload rejected"))
    });
    for _ in 0..5 {
        assert_eq!(
            connection.refresh().await,
            401,
            "the old budget still applies"
        );
    }

    // A valid change, plus a key that needs a restart.
    write_config(&config, 2, "shutdown_timeout_secs = 5\n");
    hang_up(&server);
    let restart = server.wait_for_line(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs restart"))
    });
    assert_eq!(restart["keys"], "shutdown_timeout_secs");
    let reloaded = server.wait_for_line(|l| l["message"] == "config reloaded");
    assert_eq!(reloaded["trigger"], "SIGHUP");
    assert_eq!(reloaded["changed"], "auth.rate_limit_per_minute");
    assert_eq!(connection.refresh().await, 401, "a fresh budget of 2");
    assert_eq!(connection.refresh().await, 401);
    assert_eq!(
        connection.refresh().await,
        429,
        "the new limit, on the connection opened before the reload"
    );
    // The listener did not move: new connections are served where they were.
    let health = client()
        .get(server.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    server.terminate();
    assert!(server.wait_exit().success());
}

#[tokio::test]
async fn sighup_changes_the_rate_limit_on_an_open_connection_sqlite() {
    sighup_changes_the_rate_limit_on_an_open_connection(false).await;
}

#[tokio::test]
async fn sighup_changes_the_rate_limit_on_an_open_connection_postgres() {
    sighup_changes_the_rate_limit_on_an_open_connection(true).await;
}

/// GETs `/` as request `id`.
async fn get_root(server: &Server, id: &str) {
    let response = client()
        .get(server.url("/"))
        .header("x-request-id", id)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

/// The watcher reloads a written file without any signal; the log level changes live.
#[tokio::test]
async fn the_watcher_applies_a_new_log_level_without_a_signal() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("tenantbase.toml");
    write_config(&config, 120, "");
    let mut server = start(dir.path(), &config, None);
    get_root(&server, "logged-before").await;
    server.wait_for_line(|l| l["span"]["request_id"] == "logged-before");

    // Warnings only, except the reload's own line, so the test sees when it is in force.
    write_config(
        &config,
        120,
        "[log]\nlevel = \"warn,tenantbase::reload=info\"\n",
    );
    let reloaded = server.wait_for_line(|l| l["message"] == "config reloaded");
    assert_eq!(reloaded["trigger"], "file watcher");
    assert_eq!(reloaded["changed"], "log.level");
    get_root(&server, "quiet").await;

    write_config(&config, 120, "[log]\nlevel = \"info\"\n");
    server.wait_for_line(|l| l["message"] == "config reloaded");
    get_root(&server, "logged-after").await;
    server.wait_for_line(|l| l["span"]["request_id"] == "logged-after");
    // One writer thread keeps the order: `quiet` would have come before `logged-after`.
    let quiet_logged = server
        .lines_so_far()
        .iter()
        .any(|line| line.contains("\"quiet\""));
    assert!(!quiet_logged, "a request was logged at level warn");
}

/// Registers `email`; its verification email is queued.
async fn register(server: &Server, email: &str) {
    let response = client()
        .post(server.url("/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
}

/// The text part of the `.eml` file (the file transport) sent to `email`, waiting up to
/// 20 s for the job to write it.
async fn mail_to(dir: &Path, email: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = mail_texts_to(&dir.join("data/mail"), email)
            .into_iter()
            .next();
        if let Some(text) = found {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "no email to {email}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_template(folder: &Path, greeting: &str) {
    std::fs::write(
        folder.join("verify_email.txt"),
        format!("{{% extends \"layout.txt\" %}}\n{{% block content %}}\n{greeting}\n\n{{{{ link }}}}\n{{% endblock %}}\n"),
    )
    .expect("write template");
}

/// A template file replaced on disk takes over at the next SIGHUP; one that does not
/// compile is refused and the previous one goes on being used.
#[tokio::test]
async fn sighup_reloads_email_templates() {
    let dir = tempfile::tempdir().expect("dir");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    write_template(&templates, "Greetings-one");
    let config = dir.path().join("tenantbase.toml");
    std::fs::write(
        &config,
        format!(
            "[mail]\ntemplates_dir = {:?}\n",
            templates.display().to_string()
        ),
    )
    .expect("write config");
    let mut command = tenantbase(dir.path());
    command.arg("--config").arg(&config);
    let mut server = Server::start(&mut command);

    register(&server, "one@example.com").await;
    assert!(
        mail_to(dir.path(), "one@example.com")
            .await
            .contains("Greetings-one")
    );

    write_template(&templates, "Greetings-two");
    hang_up(&server);
    server.wait_for_line(|l| l["message"] == "config reloaded");
    register(&server, "two@example.com").await;
    assert!(
        mail_to(dir.path(), "two@example.com")
            .await
            .contains("Greetings-two")
    );

    std::fs::write(templates.join("verify_email.txt"), "{% block unclosed").expect("write");
    hang_up(&server);
    let refused = server.wait_for_line(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("config reload rejected"))
    });
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("verify_email.txt")),
        "{refused}"
    );
    register(&server, "three@example.com").await;
    assert!(
        mail_to(dir.path(), "three@example.com")
            .await
            .contains("Greetings-two"),
        "the last good templates stay in use"
    );
}
