//! Races between a presigned upload's completions and the bytes the client PUTs to its
//! staging key, on both backends, driven step by step by holding the object store's
//! calls on that key (`held_store`): a refusal that must not remove bytes it does not
//! own, and a completion's copy that lands after its lease ran out.

use std::time::Duration;

use serde_json::json;
use tenantbase_core::jobs::JobHandler;
use tenantbase_core::tenancy::files::SweepFiles;
use tokio::sync::oneshot;

use crate::files_faults::job;
use crate::files_lapsed_claim::lapse_claim;
use crate::held_store::held_store;
use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

/// Opens a presigned upload of `size` bytes: its id.
async fn presign(app: &TestApp, owner: &Caller, org: &str, size: usize) -> String {
    let presigned = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "raced.bin", "content_type": "application/octet-stream", "size": size}),
        )
        .await;
    assert_eq!(presigned.status, 201, "{}", presigned.text());
    presigned.json()["upload_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// A completion refused for the wrong size while the client PUTs the right bytes and
/// completes again: the refusal leaves those bytes to the completion that records them.
/// Held: the first completion has read the wrong size, the second the right one; the
/// first answers, then the second goes on.
#[tokio::test]
async fn a_wrong_size_refusal_leaves_the_right_bytes_put_meanwhile() {
    for backend in BOTH {
        let root = tempfile::tempdir().expect("store folder");
        let (blob, mut holds) = held_store(root.path());
        let app = TestApp::with_blob(backend, blob).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Refused").await;
        let upload = presign(&app, &owner, &org, 4).await;
        let staging = format!("uploads/{org}/{upload}");
        app.blob.put(&staging, b"bad".to_vec()).await.expect("PUT");
        holds.watch(&staging);

        let complete = format!("/v1/orgs/{org}/files/uploads/{upload}/complete");
        let (answered, first_answered) = oneshot::channel();
        let first = async {
            let answer = owner.post(&app, &complete, json!({})).await;
            let _ = answered.send(());
            answer
        };
        let second = async {
            let first_head = holds.next("head").await;
            app.blob
                .put(&staging, b"good".to_vec())
                .await
                .expect("the right bytes");
            let steer = async {
                let second_head = holds.next("head").await;
                first_head.go();
                first_answered.await.expect("the first answered");
                second_head.go();
                holds.next("move").await.go();
            };
            tokio::join!(owner.post(&app, &complete, json!({})), steer).0
        };
        let (first, second) = tokio::join!(first, second);

        first.problem(422, "validation_failed");
        assert_eq!(second.status, 201, "{backend:?}: {}", second.text());
        let content = owner
            .get(&app, &format!("/v1/orgs/{org}/files/{upload}/content"))
            .await;
        assert_eq!(content.body, b"good", "{backend:?}");
    }
}

/// A completion whose move of the staged bytes stalls past its lease, and lands only after
/// another completion recorded the file — meanwhile the client PUT other bytes, as a
/// store's own URL allows until it expires: the recorded object keeps its bytes, through
/// the sweep too.
#[tokio::test]
async fn a_move_that_lands_after_another_completion_recorded_the_file_leaves_its_object() {
    for backend in BOTH {
        let root = tempfile::tempdir().expect("store folder");
        let (blob, mut holds) = held_store(root.path());
        let app = TestApp::with_blob(backend, blob).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Late").await;
        let upload = presign(&app, &owner, &org, 4).await;
        let staging = format!("uploads/{org}/{upload}");
        app.blob.put(&staging, b"good".to_vec()).await.expect("PUT");
        holds.watch(&staging);

        let complete = format!("/v1/orgs/{org}/files/uploads/{upload}/complete");
        let first = owner.post(&app, &complete, json!({}));
        let second = async {
            holds.next("head").await.go();
            let stalled = holds.next("move").await;
            lapse_claim(&app, &org, &upload).await;
            let steer = async {
                holds.next("head").await.go();
                holds.next("move").await.go();
            };
            let second = tokio::join!(owner.post(&app, &complete, json!({})), steer).0;
            app.blob
                .put(&staging, b"evil".to_vec())
                .await
                .expect("PUT again");
            stalled.go();
            second
        };
        let (first, second) = tokio::join!(first, second);

        assert_eq!(second.status, 201, "{backend:?}: {}", second.text());
        first.problem(409, "upload_completing");
        let sweep = SweepFiles {
            store: app.store.clone(),
            blob: app.blob.clone(),
            grace: Duration::ZERO,
        };
        let content = format!("/v1/orgs/{org}/files/{upload}/content");
        for when in ["recorded", "swept"] {
            let read = owner.get(&app, &content).await;
            assert_eq!(read.body, b"good", "{backend:?}: {when}");
            sweep
                .run(&job(SweepFiles::KIND, json!({})))
                .await
                .expect("sweep");
        }
    }
}
