//! `tenantbase backup` and `restore` with the real binary: a round trip taken while the
//! server runs and writes (every answer, file byte, the audit chains and tokens issued
//! before survive; a later write does not), damaged archives refused without a change even
//! with --force, a populated target refused without --force, and PostgreSQL deployments
//! sent to the runbook.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::backup_support::{
    Edit, PASSWORD, answers, call, content, data_digest, download, register, rewrite,
    settled_answers, upload,
};
use crate::process::{Server, client, output, tenantbase};

#[tokio::test]
async fn a_backup_taken_while_serving_restores_every_answer_file_chain_and_token() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&mut tenantbase(dir.path()));

    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str().expect("token").to_owned();
    let refresh = ada["refresh_token"].as_str().expect("refresh").to_owned();
    register(&server, "grace@example.com").await;
    let org = call(
        &server,
        "POST",
        "/v1/orgs",
        &token,
        Some(json!({"name": "Acme"})),
    )
    .await;
    let org = org["id"].as_str().expect("org id").to_owned();
    for (name, tier) in [("Launch", 1), ("Landing", 2), ("Ledger", 3)] {
        let body = json!({"name": name, "metadata": {"tier": tier}});
        call(
            &server,
            "POST",
            &format!("/v1/orgs/{org}/projects"),
            &token,
            Some(body),
        )
        .await;
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, len) in [1usize, 4096, 300_000].into_iter().enumerate() {
        let bytes = content(i as u8, len);
        let id = upload(&server, &token, &org, &format!("f{i}.bin"), &bytes).await;
        files.push((id, bytes));
    }
    // A deleted file: its row and object are gone before the backup and stay gone.
    let gone = upload(&server, &token, &org, "gone.bin", b"short-lived").await;
    call(
        &server,
        "DELETE",
        &format!("/v1/orgs/{org}/files/{gone}"),
        &token,
        None,
    )
    .await;
    let ids: Vec<String> = files.iter().map(|(id, _)| id.clone()).collect();
    let before = settled_answers(&server, &token, &org, &ids).await;

    // Another org keeps writing while the backup runs: the server is not paused.
    let (busy_token, busy_org) = server.guest_with_org("Busy").await;
    let written = Arc::new(AtomicUsize::new(0));
    let backing_up = Arc::new(AtomicBool::new(true));
    let writer = {
        let url = server.url(&format!("/v1/orgs/{busy_org}/projects"));
        let (written, backing_up) = (written.clone(), backing_up.clone());
        tokio::spawn(async move {
            for i in 0..5000 {
                if !backing_up.load(SeqCst) {
                    break;
                }
                let response = client()
                    .post(&url)
                    .bearer_auth(&busy_token)
                    .json(&json!({"name": format!("p{i}")}))
                    .send()
                    .await
                    .expect("write");
                assert_eq!(response.status(), 201, "a write during the backup");
                written.fetch_add(1, SeqCst);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while written.load(SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the writer never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let archive = dir.path().join("backup.tar.gz");
    let started = (Instant::now(), written.load(SeqCst));
    let command_dir = dir.path().to_owned();
    let command_archive = archive.clone();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        output(
            tenantbase(&command_dir)
                .args(["backup", "--out"])
                .arg(&command_archive),
        )
    })
    .await
    .expect("backup ran");
    let (took, during) = (started.0.elapsed(), written.load(SeqCst) - started.1);
    backing_up.store(false, SeqCst);
    writer.await.expect("every write succeeded");
    assert!(ok, "backup: {stderr}");
    eprintln!("backup took {took:?}, {during} writes meanwhile:\n{stdout}");
    assert!(during > 0, "the server kept writing during the backup");
    assert!(
        stdout.contains("wrote ") && stdout.contains(" objects"),
        "{stdout}"
    );
    assert!(stdout.contains("master.key"), "{stdout}");
    assert!(
        std::fs::read_dir(&data).expect("data").all(|e| !e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with(".backup-")),
        "the staging folder is removed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive)
            .expect("archive")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the archive holds keys: owner only");
    }
    // After the backup: must not come back.
    call(
        &server,
        "POST",
        &format!("/v1/orgs/{org}/projects"),
        &token,
        Some(json!({"name": "After"})),
    )
    .await;
    server.terminate();
    assert!(server.wait_exit().success());

    std::fs::remove_dir_all(&data).expect("wipe");
    let (ok, stdout, stderr) = output(
        tenantbase(dir.path())
            .args(["restore", "--from"])
            .arg(&archive),
    );
    assert!(ok, "restore: {stderr}");
    assert!(
        stdout.contains("restored ") && stdout.contains(" files ("),
        "{stdout}"
    );
    assert!(stdout.contains("master.key from the backup"), "{stdout}");

    let (ok, stdout, stderr) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok, "audit verify after restore: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{org}: ok")) && stdout.contains("platform: ok"),
        "{stdout}"
    );

    let mut server = Server::start(&mut tenantbase(dir.path()));
    // The access token from before the backup still verifies: same keys, same sessions.
    let after = answers(&server, &token, &org, &ids).await;
    assert_eq!(after.len(), before.len());
    for (route, answer) in &before {
        assert_eq!(
            &after[route], answer,
            "{route} answers as before the backup"
        );
    }
    for (id, bytes) in &files {
        assert_eq!(
            &download(&server, &token, &org, id).await,
            bytes,
            "file {id}"
        );
    }
    let verified = client()
        .get(server.url("/v1/auth/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("verify");
    assert_eq!(
        verified.status(),
        204,
        "forward auth with the earlier token"
    );
    let refreshed = client()
        .post(server.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(refreshed.status(), 200, "the earlier refresh token rotates");
    let login = client()
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "grace@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200, "a password from before signs in");
    server.terminate();
    assert!(server.wait_exit().success());
}

/// A small deployment with one file, stopped, and its backup: (temp dir, data folder,
/// archive).
async fn stopped_deployment_with_backup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&mut tenantbase(dir.path()));
    let (token, org) = server.guest_with_org("Small").await;
    upload(&server, &token, &org, "a.bin", &content(7, 5000)).await;
    server.terminate();
    assert!(server.wait_exit().success());
    let archive = dir.path().join("small.tar.gz");
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .args(["backup", "--out"])
            .arg(&archive),
    );
    assert!(ok, "backup: {stderr}");
    (dir, dir_path_data(&archive), archive)
}

fn dir_path_data(archive: &Path) -> PathBuf {
    archive.parent().expect("dir").join("data")
}

fn restore(dir: &Path, archive: &Path, force: bool) -> (bool, String, String) {
    let mut command: Command = tenantbase(dir);
    command.args(["restore", "--from"]).arg(archive);
    if force {
        command.arg("--force");
    }
    output(&mut command)
}

#[tokio::test]
async fn a_damaged_archive_is_refused_and_nothing_changes_even_with_force() {
    let (dir, data, archive) = stopped_deployment_with_backup().await;
    let before = data_digest(&data);
    let bad = dir.path().join("bad.tar.gz");
    let flip_file = |name: &str, mut bytes: Vec<u8>| {
        if name.starts_with("files/org/") {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
        }
        Some((name.to_owned(), bytes))
    };
    let drop_key =
        |name: &str, bytes: Vec<u8>| (name != "keys/master.key").then(|| (name.to_owned(), bytes));
    let forge_manifest = |name: &str, bytes: Vec<u8>| {
        if name != "manifest.json" {
            return Some((name.to_owned(), bytes));
        }
        let mut manifest: Value = serde_json::from_slice(&bytes).expect("manifest");
        manifest["entries"][0]["sha256"] = json!(hex::encode(Sha256::digest(b"forged")));
        Some((
            name.to_owned(),
            serde_json::to_vec(&manifest).expect("json"),
        ))
    };
    // Listed in the manifest too, so only the check of the names themselves can stop it.
    let escape = |name: &str, bytes: Vec<u8>| {
        if name == "manifest.json" {
            let text = String::from_utf8(bytes).expect("utf-8");
            return Some((
                name.to_owned(),
                text.replace("\"files/", "\"files/../../").into_bytes(),
            ));
        }
        Some((name.replace("files/", "files/../../"), bytes))
    };
    let cases: [(&str, Edit<'_>, &str); 4] = [
        (
            "a flipped byte in a file",
            &flip_file,
            "does not match its size and SHA-256",
        ),
        (
            "a missing entry",
            &drop_key,
            "keys/master.key` listed in manifest.json is missing",
        ),
        (
            "a forged manifest",
            &forge_manifest,
            "does not match its size and SHA-256",
        ),
        (
            "a path out of the folder",
            &escape,
            "not a place a backup writes",
        ),
    ];
    for (case, edit, why) in cases {
        rewrite(&archive, &bad, edit);
        let (ok, _, stderr) = restore(dir.path(), &bad, true);
        assert!(!ok, "{case}: refused");
        assert!(
            stderr.contains(why) && stderr.contains("nothing was changed"),
            "{case}: {stderr}"
        );
        assert_eq!(
            data_digest(&data),
            before,
            "{case}: the data folder is unchanged"
        );
        std::fs::remove_file(&bad).expect("remove");
    }
    // Damage to the compressed bytes themselves, and a cut-off archive.
    let whole = std::fs::read(&archive).expect("archive");
    let mut flipped = whole.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    for (case, bytes) in [
        ("a flipped compressed byte", flipped),
        ("a truncated archive", whole[..whole.len() - 40].to_vec()),
    ] {
        std::fs::write(&bad, bytes).expect("write");
        let (ok, _, stderr) = restore(dir.path(), &bad, true);
        assert!(!ok, "{case}: refused");
        assert!(
            stderr.contains("is damaged or not a tenantbase backup"),
            "{case}: {stderr}"
        );
        assert_eq!(
            data_digest(&data),
            before,
            "{case}: the data folder is unchanged"
        );
    }
    // A whole archive, but a configured master key that is not the one its signing keys
    // were sealed with: refused after extraction, before the swap.
    let other_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .env("TENANTBASE_AUTH__MASTER_KEY", other_key)
            .args(["restore", "--force", "--from"])
            .arg(&archive),
    );
    assert!(!ok, "a foreign master key is refused");
    assert!(
        stderr.contains("signing keys do not open with auth.master_key")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(
        data_digest(&data),
        before,
        "a foreign key: the data folder is unchanged"
    );
    // Into an empty target too, nothing is left behind.
    let empty = tempfile::tempdir().expect("empty");
    let (ok, _, _) = restore(empty.path(), &bad, false);
    assert!(!ok);
    assert!(!empty.path().join("data").exists());
}

#[tokio::test]
async fn a_populated_target_is_refused_without_force_and_replaced_with_it() {
    let (dir, data, archive) = stopped_deployment_with_backup().await;
    let before = data_digest(&data);
    let (ok, _, stderr) = restore(dir.path(), &archive, false);
    assert!(!ok);
    assert!(
        stderr.contains("the target is not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(data_digest(&data), before, "unchanged");

    // A file added since the backup goes away with --force; the rest is as backed up.
    std::fs::write(data.join("files").join("stray"), b"not in the backup").expect("stray");
    let (ok, stdout, stderr) = restore(dir.path(), &archive, true);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("the previous data was replaced"),
        "{stdout}"
    );
    let after = data_digest(&data);
    assert!(
        !after
            .keys()
            .any(|k| k.contains("stray") || k.contains(".restore-") || k.contains(".replaced-")),
        "{after:?}"
    );
    let files = |digest: &BTreeMap<String, String>| -> Vec<(String, String)> {
        digest
            .iter()
            .filter(|(k, _)| k.starts_with("files/") || *k == "master.key")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(files(&after), files(&before), "files and key as backed up");
    let (ok, stdout, _) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok, "{stdout}");
}

/// A folder a server runs on is not restored, even with --force: what the server wrote
/// afterwards would land in the files swapped out, and be lost. Once it stops, it is.
#[tokio::test]
async fn a_folder_a_server_runs_on_is_not_restored() {
    let (dir, _, archive) = stopped_deployment_with_backup().await;
    let mut server = Server::start(&mut tenantbase(dir.path()));
    let (ok, _, stderr) = restore(dir.path(), &archive, true);
    assert!(!ok, "restored under a running server");
    assert!(stderr.contains("stop it first"), "{stderr}");
    server.terminate();
    assert!(server.wait_exit().success());
    let (ok, _, stderr) = restore(dir.path(), &archive, true);
    assert!(ok, "{stderr}");
}

async fn postgres_is_sent_to_the_runbook(command: &str) {
    let database = tenantbase_testkit::fresh_database().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("x.tar.gz");
    let flag = if command == "backup" {
        "--out"
    } else {
        "--from"
    };
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .env("DATABASE_URL", &database.url)
            .args([command, flag])
            .arg(&path),
    );
    assert!(!ok);
    assert!(
        stderr.contains("pg_dump") && stderr.contains("docs/runbooks/backup-and-restore.md"),
        "{stderr}"
    );
    assert!(!path.exists());
}

#[tokio::test]
async fn backup_on_postgres_points_to_the_runbook() {
    postgres_is_sent_to_the_runbook("backup").await;
}

#[tokio::test]
async fn restore_on_postgres_points_to_the_runbook() {
    postgres_is_sent_to_the_runbook("restore").await;
}

#[test]
fn a_configured_master_key_and_remote_files_stay_out_and_restore_asks_for_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    // Files in S3 (never contacted here) and the master key from the configuration.
    let configured = |with_key: bool| {
        let mut command = tenantbase(dir.path());
        command
            .env("TENANTBASE_FILES__BACKEND", "s3")
            .env("TENANTBASE_FILES__S3__BUCKET", "tenantbase-files");
        if with_key {
            command.env("TENANTBASE_AUTH__MASTER_KEY", &key);
        }
        command
    };
    for step in [&["migrate"][..], &["keys", "rotate"]] {
        let (ok, _, stderr) = output(configured(true).args(step));
        assert!(ok, "{step:?}: {stderr}");
    }
    let data = dir.path().join("data");
    assert!(!data.join("master.key").exists());
    let archive = dir.path().join("configured.tar.gz");
    let (ok, stdout, stderr) = output(configured(true).args(["backup", "--out"]).arg(&archive));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("files     not included"), "{stdout}");
    assert!(
        stdout.contains("keys      not included: auth.master_key is configured"),
        "{stdout}"
    );

    std::fs::remove_dir_all(&data).expect("wipe");
    let (ok, _, stderr) = output(configured(false).args(["restore", "--from"]).arg(&archive));
    assert!(!ok, "no key anywhere: refused");
    assert!(
        stderr.contains("holds no master key") && stderr.contains("auth.master_key"),
        "{stderr}"
    );
    assert!(
        !data.exists() || data_digest(&data).is_empty(),
        "nothing restored without the key"
    );
    let (ok, stdout, stderr) = output(configured(true).args(["restore", "--from"]).arg(&archive));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("signing keys open with auth.master_key"),
        "{stdout}"
    );
    assert!(!data.join("files").exists() && !data.join("master.key").exists());
    let (ok, stdout, _) = output(configured(true).args(["audit", "verify"]));
    assert!(ok && stdout.contains("platform: ok"), "{stdout}");
}
