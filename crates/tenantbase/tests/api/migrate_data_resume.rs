//! `tenantbase migrate-data` stopped part way (its batch budget, SIGINT, SIGKILL) resumes
//! to the same end state as an uninterrupted copy; targets it must not write are refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, PgPool};
use tenantbase_testkit::fresh_database;

use crate::migrate_data::{Api, migrate_data, with_sqlite_server};
use crate::process::{BIN, clean_env, line_channel, output, tenantbase};

/// A SQLite deployment in `dir`: a guest's org with a dozen projects.
async fn seed(dir: &Path) {
    with_sqlite_server(dir, async |server| {
        let (token, org) = server.guest_with_org("Resumable").await;
        let api = Api { server };
        for i in 0..12 {
            api.post(
                &format!("/v1/orgs/{org}/projects"),
                &token,
                json!({"name": format!("P{i}")}),
            )
            .await;
        }
    })
    .await;
}

/// (tables done, tables) in the target's ledger.
async fn ledger(url: &str) -> (i64, i64) {
    let pool = PgPool::connect(url).await.expect("connect");
    let counts = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE done), count(*) FROM tenantbase_migrate_data.tables",
    )
    .fetch_one(&pool)
    .await
    .expect("ledger");
    pool.close().await;
    counts
}
/// Every table of the target, rows in a stable order, as text.
async fn dump(url: &str) -> Vec<(String, String)> {
    let pool = PgPool::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut out = Vec::new();
    for table in tables.into_iter().filter(|t| t != "_sqlx_migrations") {
        let sql = format!(
            "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \"{table}\" t"
        );
        let rows: String = sqlx::query_scalar(&sql)
            .fetch_one(&pool)
            .await
            .expect("rows");
        out.push((table, rows));
    }
    pool.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_resumes_to_the_same_end_and_a_full_target_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path()).await;

    // Stopped part way (as Ctrl-C would between batches), then run again.
    let interrupted = fresh_database().await;
    let limited = ["--batch-size", "2", "--max-batches", "8"];
    let (ok, stdout, _) = migrate_data(dir.path(), &interrupted.url, &limited);
    assert!(!ok, "a stopped copy exits 1: {stdout}");
    assert!(stdout.contains("run the same command again"), "{stdout}");
    let (done, all) = ledger(&interrupted.url).await;
    assert!(done > 0 && done < all, "stopped part way: {done} of {all}");
    let (ok, stdout, stderr) = migrate_data(dir.path(), &interrupted.url, &["--batch-size", "2"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("resuming"), "{stdout}");

    let straight = fresh_database().await;
    let (ok, stdout, stderr) = migrate_data(dir.path(), &straight.url, &[]);
    assert!(ok, "{stdout}{stderr}");
    let resumed = dump(&interrupted.url).await;
    assert_eq!(resumed, dump(&straight.url).await);
    let projects = resumed
        .iter()
        .find(|(t, _)| t == "projects")
        .expect("projects");
    assert_eq!(projects.1.lines().count(), 12);

    // A target with data but no run of this source is refused, naming the tables.
    let pool = PgPool::connect(&straight.url).await.expect("connect");
    sqlx::query("DROP SCHEMA tenantbase_migrate_data CASCADE")
        .execute(&pool)
        .await
        .expect("forget the run");
    pool.close().await;
    let (ok, stdout, stderr) = migrate_data(dir.path(), &straight.url, &[]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("not empty") && stderr.contains("users") && stderr.contains("projects"),
        "{stderr}"
    );

    // And so is another deployment's copy into a target holding this one's run.
    let other = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(tenantbase(other.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = migrate_data(other.path(), &interrupted.url, &[]);
    assert!(!ok);
    assert!(stderr.contains("another source"), "{stderr}");
}

/// Starts a copy of one row per batch, waits for its first progress line (rows are
/// moving), sends `signal` and waits for the end: (success, what it printed).
fn copy_until_signalled(dir: &Path, url: &str, signal: &str) -> (bool, String) {
    let mut child = tenantbase(dir)
        .args(["migrate-data", "--to", url, "--batch-size", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains("rows/s") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("no progress line within 30 s: {seen}")
        });
        seen.push_str(&line);
        seen.push('\n');
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-s", signal, &pid]).status();
    assert!(sent.expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("still running 30 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The reader ends with the pipe, now that the process has.
    for line in lines.iter() {
        seen.push_str(&line);
        seen.push('\n');
    }
    (status.success(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_interrupted_or_killed_mid_batch_resumes_to_the_same_end() {
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path()).await;
    let straight = fresh_database().await;
    let (ok, stdout, stderr) = migrate_data(dir.path(), &straight.url, &[]);
    assert!(ok, "{stdout}{stderr}");
    let expected = dump(&straight.url).await;

    // Ctrl-C lets the batch in flight commit; SIGKILL loses it uncommitted.
    for signal in ["INT", "KILL"] {
        let target = fresh_database().await;
        let (ok, stdout) = copy_until_signalled(dir.path(), &target.url, signal);
        assert!(!ok, "SIG{signal} ends the copy unfinished: {stdout}");
        if signal == "INT" {
            assert!(stdout.contains("run the same command again"), "{stdout}");
        }
        let (done, all) = ledger(&target.url).await;
        assert!(
            done < all,
            "SIG{signal} stopped it part way: {done} of {all}"
        );
        let (ok, stdout, stderr) = migrate_data(dir.path(), &target.url, &[]);
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("resuming"), "{stdout}");
        assert_eq!(dump(&target.url).await, expected, "after SIG{signal}");
    }
}

#[tokio::test]
async fn a_login_role_bound_by_row_level_security_is_refused_before_any_write() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(tenantbase(dir.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    let target = fresh_database().await;
    let role = format!("tb_no_bypass_{}", uuid::Uuid::now_v7().simple());
    let admin = PgPool::connect(&target.url).await.expect("connect");
    sqlx::query(&format!("CREATE ROLE {role} LOGIN"))
        .execute(&admin)
        .await
        .expect("role");
    let mut url = url::Url::parse(&target.url).expect("url");
    url.set_username(&role).expect("user");

    let (ok, _, stderr) = migrate_data(dir.path(), url.as_str(), &[]);
    let written: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&admin)
        .await
        .expect("look");
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&admin)
        .await
        .expect("drop role");
    admin.close().await;
    assert!(!ok);
    assert!(
        stderr.contains(&role) && stderr.contains("BYPASSRLS"),
        "{stderr}"
    );
    assert!(!written, "nothing written before the refusal");
}

#[tokio::test]
async fn a_second_run_into_the_same_database_waits_its_turn() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(tenantbase(dir.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    let target = fresh_database().await;
    // What a run in progress holds (the command's lock key).
    let mut running = sqlx::PgConnection::connect(&target.url)
        .await
        .expect("connect");
    sqlx::query("SELECT pg_advisory_lock(x'74626d6967726174'::bigint)")
        .execute(&mut running)
        .await
        .expect("lock");
    let (ok, _, stderr) = migrate_data(dir.path(), &target.url, &[]);
    assert!(!ok);
    assert!(stderr.contains("another migrate-data run"), "{stderr}");
    running.close().await.expect("close");
    let (ok, stdout, stderr) = migrate_data(dir.path(), &target.url, &[]);
    assert!(ok, "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_progress_is_one_line_redrawn_with_rate_and_eta() {
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path()).await;
    let target = fresh_database().await;
    // `script` (Debian's bsdutils, always installed) gives the command a terminal.
    let command = format!("{BIN} migrate-data --to {} --batch-size 1", target.url);
    let mut script = Command::new("script");
    clean_env(&mut script)
        .current_dir(dir.path())
        .args(["-qec", &command, "/dev/null"]);
    let (ok, screen, stderr) = output(&mut script);
    assert!(ok, "{screen}{stderr}");
    // Redrawn in place (carriage return, erase line: never written when not on a
    // terminal), with a rate and an ETA.
    let redrawn = screen.matches("\r\x1b[2K").count();
    assert!(redrawn > 10, "{screen:?}");
    assert!(screen.contains(" rows/s, ETA "), "{screen:?}");
}
