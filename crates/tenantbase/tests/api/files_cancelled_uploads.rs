//! Cancelling presigned uploads (`DELETE …/files/uploads/{upload_id}`), both backends: an
//! open upload's reservation, open-upload slot and staged bytes go, and it is audited;
//! only an open upload can be cancelled, and not while a completion holds it.

use axum::http::Method;
use chrono::{SubsecRound, Utc};
use serde_json::json;
use tenantbase_store::OrgScope;

use crate::files::{created_id, small_quota, stored_objects, upload};
use crate::files_presigned::{blob_path, put_blob};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::Caller;

async fn presign(app: &TestApp, owner: &Caller, org: &str, size: u64) -> TestResponse {
    let body = json!({"name": "c.bin", "content_type": "application/octet-stream", "size": size});
    owner
        .post(app, &format!("/v1/orgs/{org}/files/presign"), body)
        .await
}

/// The id of the upload a presign opened (asserting that it did), and its URL's path.
fn opened(response: TestResponse) -> (String, String) {
    assert_eq!(response.status, 201, "{}", response.text());
    let presigned = response.json();
    let id = presigned["upload_id"].as_str().expect("upload id");
    (
        id.to_owned(),
        blob_path(presigned["url"].as_str().expect("url")),
    )
}

async fn cancel(app: &TestApp, owner: &Caller, org: &str, upload: &str) -> TestResponse {
    let path = format!("/v1/orgs/{org}/files/uploads/{upload}");
    owner.call(app, Method::DELETE, &path, None).await
}

fn scope(org: &str) -> OrgScope {
    OrgScope::for_checked_org(org.parse().expect("org id"))
}

async fn open_uploads(app: &TestApp, org: &str) -> u64 {
    let mut unit = app.store.read_org(&scope(org)).await.expect("unit");
    unit.open_uploads(Utc::now()).await.expect("count")
}

#[tokio::test]
async fn cancelling_an_open_upload_frees_its_quota_its_slot_and_its_bytes() {
    for backend in BOTH {
        let app = TestApp::with_files(backend, small_quota(), None).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Cancel").await;
        let (upload, url) = opened(presign(&app, &owner, &org, 500).await);
        // Bytes were PUT already (a store's own URL takes them without telling us).
        let staged = app.files_dir.join(format!("uploads/{org}/{upload}"));
        std::fs::create_dir_all(staged.parent().expect("folder")).expect("folder");
        std::fs::write(&staged, [1; 10]).expect("staged");
        presign(&app, &owner, &org, 600)
            .await
            .problem(507, "quota_exceeded");
        assert_eq!(open_uploads(&app, &org).await, 1, "{backend:?}");

        let cancelled = cancel(&app, &owner, &org, &upload).await;
        assert_eq!(cancelled.status, 204, "{backend:?}: {}", cancelled.text());
        assert_eq!(open_uploads(&app, &org).await, 0, "{backend:?}");
        assert!(stored_objects(&app).is_empty(), "{backend:?}: bytes left");
        let audit = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?type=file.upload_cancelled"),
            )
            .await
            .json();
        assert_eq!(audit["items"][0]["target_id"], upload.as_str());
        assert_eq!(audit["items"][0]["payload"]["size"], 500, "{audit}");

        // Gone: nothing completes it, and its URL no longer takes bytes.
        cancel(&app, &owner, &org, &upload)
            .await
            .problem(404, "not_found");
        let complete = format!("/v1/orgs/{org}/files/uploads/{upload}/complete");
        owner
            .post(&app, &complete, json!({}))
            .await
            .problem(404, "not_found");
        put_blob(&app, &url, "application/octet-stream", vec![1; 500])
            .await
            .problem(404, "not_found");
        // Its reservation is free for another.
        opened(presign(&app, &owner, &org, 600).await);
    }
}

#[tokio::test]
async fn only_an_open_upload_no_completion_holds_can_be_cancelled() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Closed").await;
        let direct =
            created_id(upload(&app, &owner, &org, "d.txt", "text/plain", b"d".to_vec()).await);
        for unknown in [direct.as_str(), "fil_00000000000000000000000000", "nope"] {
            cancel(&app, &owner, &org, unknown)
                .await
                .problem(404, "not_found");
        }

        // Completed: the file stays.
        let (completed, url) = opened(presign(&app, &owner, &org, 1).await);
        created_id(put_blob(&app, &url, "application/octet-stream", vec![1]).await);
        cancel(&app, &owner, &org, &completed)
            .await
            .problem(404, "not_found");
        let file = owner
            .get(&app, &format!("/v1/orgs/{org}/files/{completed}"))
            .await;
        assert_eq!(file.status, 200, "{backend:?}: {}", file.text());

        // Held by a completion: refused until the completion gives it back.
        let (held, _) = opened(presign(&app, &owner, &org, 1).await);
        let id = held.parse().expect("upload id");
        let now = Utc::now().trunc_subsecs(6);
        let until = now + chrono::Duration::minutes(30);
        let mut unit = app.store.begin_org(&scope(&org)).await.expect("unit");
        assert!(unit.claim_upload(id, now, until).await.expect("claim"));
        unit.commit().await.expect("commit");
        cancel(&app, &owner, &org, &held)
            .await
            .problem(409, "upload_completing");
        let mut unit = app.store.begin_org(&scope(&org)).await.expect("unit");
        unit.release_upload(id, until).await.expect("release");
        unit.commit().await.expect("commit");
        assert_eq!(cancel(&app, &owner, &org, &held).await.status, 204);

        // Expired.
        let (expired, _) = opened(presign(&app, &owner, &org, 1).await);
        app.execute_sql("UPDATE file_uploads SET expires_at = created_at")
            .await;
        cancel(&app, &owner, &org, &expired)
            .await
            .problem(404, "not_found");
    }
}
