//! `tenantbase migrate-data --files-to azure://CONTAINER`: a SQLite deployment's files move
//! to Azure Blob (Azurite on loopback) with its rows to PostgreSQL, and the binary on the
//! new deployment serves the same bytes to tokens issued before the move.

use std::process::Command;

use tenantbase_testkit::emulators::{self, AZURITE_ACCOUNT, AZURITE_KEY};
use tenantbase_testkit::fresh_database;

use crate::migrate_data::{answers, assert_same_answers, seed, with_sqlite_server};
use crate::process::{Server, output, tenantbase};

/// The Blob container the files move to.
const CONTAINER: &str = "moved-files";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployments_files_move_to_azure_blob_and_download_the_same() {
    let dir = tempfile::tempdir().expect("dir");
    let seeded =
        with_sqlite_server(dir.path(), async |server| seed(server, dir.path()).await).await;
    assert_eq!(seeded.contents.len(), 2, "two files seeded");
    let before =
        with_sqlite_server(dir.path(), async |server| answers(server, &seeded).await).await;

    let database = fresh_database().await;
    let azurite = emulators::azurite();
    azurite.create_container(CONTAINER);
    // The target store's settings other than its container, as the new deployment reads them.
    let azure = |command: &mut Command| {
        command
            .env("TENANTBASE_FILES__AZURE__ACCOUNT", AZURITE_ACCOUNT)
            .env("TENANTBASE_FILES__AZURE__ACCESS_KEY", AZURITE_KEY)
            .env(
                "TENANTBASE_FILES__AZURE__ENDPOINT",
                format!("{}/{AZURITE_ACCOUNT}", azurite.url),
            );
    };
    let mut copy = tenantbase(dir.path());
    azure(&mut copy);
    let (ok, stdout, stderr) = output(copy.args([
        "migrate-data",
        "--to",
        &database.url,
        "--files-to",
        &format!("azure://{CONTAINER}"),
    ]));
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("row counts match"), "{stdout}");
    assert!(
        stdout.contains("files: 2 objects copied (25 bytes), 0 already there"),
        "{stdout}"
    );

    // The local copies go, so the bytes served below can only come from the container.
    std::fs::remove_dir_all(dir.path().join("data/files")).expect("remove the local files");
    let mut serve = tenantbase(dir.path());
    azure(&mut serve);
    serve
        .env("DATABASE_URL", &database.url)
        .env("TENANTBASE_FILES__BACKEND", "azure")
        .env("TENANTBASE_FILES__AZURE__CONTAINER", CONTAINER);
    let server = Server::start(&mut serve);
    assert_same_answers(&before, &answers(&server, &seeded).await);
}
