//! A presigned upload's completion that outran its lease cannot remove the bytes of the
//! completion that took the upload over, on both backends. The staged object is a named
//! pipe, so the first completion waits, after its claim and its copy, in the store's open
//! of the bytes until the test lets it go: the test lapses its claim meanwhile and
//! completes the upload again.

use std::path::Path;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use serde_json::json;
use tenantbase_store::OrgScope;

use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::Caller;

/// Opens `pipe` for writing and closes it at once: a reader waiting in its open goes on
/// (and reads nothing). Returns once a reader took it.
async fn let_reader_go(pipe: &Path) {
    let pipe = pipe.to_owned();
    tokio::task::spawn_blocking(move || drop(std::fs::OpenOptions::new().write(true).open(pipe)))
        .await
        .expect("writer");
}

/// Returns once `folder` holds something (within a few seconds).
async fn until_filled(folder: &Path) {
    for _ in 0..500 {
        if std::fs::read_dir(folder).is_ok_and(|mut entries| entries.next().is_some()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("nothing arrived in {}", folder.display());
}

/// What a lease running out leaves in the store: the claim ends, nothing holds the upload.
pub(crate) async fn lapse_claim(app: &TestApp, org: &str, upload: &str) {
    assert!(try_lapse_claim(app, org, upload).await, "take over");
}

/// `lapse_claim`, or `false` when there is no upload left to take over (it completed).
async fn try_lapse_claim(app: &TestApp, org: &str, upload: &str) -> bool {
    let scope = OrgScope::for_checked_org(org.parse().expect("org id"));
    let id = upload.parse().expect("upload id");
    let mut unit = app.store.begin_org(&scope).await.expect("unit");
    let later = Utc::now() + chrono::Duration::days(1);
    let taken = (later + chrono::Duration::seconds(1)).trunc_subsecs(6);
    if !unit
        .claim_upload(id, later, taken)
        .await
        .expect("take over")
    {
        return false;
    }
    unit.release_upload(id, taken).await.expect("release");
    unit.commit().await.expect("commit");
    true
}

/// Rounds tried per backend: see `interleaved_completions`.
const ROUNDS: usize = 5;

#[tokio::test]
async fn a_completion_that_outran_its_claim_leaves_the_next_ones_file_alone() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let mut outcome = None;
        for _ in 0..ROUNDS {
            outcome = interleaved_completions(&app, &owner).await;
            if outcome.is_some() {
                break;
            }
        }
        let (org, upload, first, second) =
            outcome.unwrap_or_else(|| panic!("{backend:?}: no round interleaved in {ROUNDS}"));
        assert_eq!(second.status, 201, "{backend:?}: {}", second.text());
        first.problem(409, "upload_completing");
        let content = owner
            .get(&app, &format!("/v1/orgs/{org}/files/{upload}/content"))
            .await;
        assert_eq!(
            content.status,
            200,
            "{backend:?}: the recorded file keeps its bytes: {}",
            content.text()
        );
    }
}

/// In a new org, a new upload's first completion held in the pipe while its claim lapses and a second
/// completion takes the upload over; the org's and the upload's ids and both answers. `None` when the
/// first got through both of its opens on the one writer meant for its size check (its
/// second open can come before that writer closes, on a busy machine): then nothing was
/// interleaved and the caller tries again.
async fn interleaved_completions(
    app: &TestApp,
    owner: &Caller,
) -> Option<(String, String, TestResponse, TestResponse)> {
    // An org of its own per round: the round waits for its org's first stored object.
    let org = owner.create_org(app, "Lapsed").await;
    let presigned = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "empty.bin", "content_type": "application/octet-stream", "size": 0}),
        )
        .await;
    assert_eq!(presigned.status, 201, "{}", presigned.text());
    let upload = presigned.json()["upload_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let staging = app.files_dir.join(format!("uploads/{org}/{upload}"));
    std::fs::create_dir_all(staging.parent().expect("folder")).expect("folder");
    let status = std::process::Command::new("mkfifo")
        .arg(&staging)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    // Another name for the pipe, to reach it once it was copied (and replaced).
    let pipe = app.files_dir.join(format!("pipe-{upload}"));
    std::fs::hard_link(&staging, &pipe).expect("link");

    let complete = format!("/v1/orgs/{org}/files/uploads/{upload}/complete");
    let first = owner.post(app, &complete, json!({}));
    let interleave = async {
        // The first completion's size check opens the staged object: let it through.
        let_reader_go(&pipe).await;
        // Claimed and copied; it now waits to read the bytes under its own key.
        until_filled(&app.files_dir.join(format!("org/{org}"))).await;
        if !try_lapse_claim(app, &org, &upload).await {
            return None;
        }
        std::fs::remove_file(&staging).expect("the pipe goes");
        std::fs::write(&staging, b"").expect("staged again");
        let second = owner.post(app, &complete, json!({})).await;
        let_reader_go(&pipe).await;
        Some(second)
    };
    let (first, second) = tokio::join!(first, interleave);
    Some((org, upload, first, second?))
}
