//! What keeps objects and rows in step: the orphan sweep, the org purge, and a store that
//! fails while the rest of the API keeps answering.

use axum::http::Method;
use serde_json::{Value, json};
use tenantbase_core::jobs::{JobContext, JobHandler};
use tenantbase_core::tenancy::files::{FileRefusal, GrantMethod, SweepFiles};
use tenantbase_core::tenancy::{PurgeOrg, TenancyError};
use tenantbase_domain::id::{FileId, JobId};

use crate::files::{created_id, stored_objects, upload};
use crate::helpers::{BOTH, Backend, TestApp};
use crate::tenants::Caller;

pub(crate) fn job(kind: &str, payload: Value) -> JobContext {
    JobContext {
        id: JobId::new(),
        kind: kind.to_owned(),
        payload,
        attempt: 1,
    }
}

#[tokio::test]
async fn the_sweep_removes_objects_without_a_row_and_the_purge_removes_an_orgs_objects() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Sweep").await;
        let kept = upload(
            &app,
            &owner,
            &org,
            "kept.txt",
            "text/plain",
            b"keep".to_vec(),
        )
        .await
        .json();
        // What a crash between storing an object and recording it leaves behind.
        let stray = format!("org/{org}/{}", FileId::new());
        app.blob
            .put(&stray, b"orphan".to_vec())
            .await
            .expect("stray object");
        let open = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/files/presign"),
                json!({"name": "later.bin", "content_type": "application/octet-stream", "size": 4}),
            )
            .await
            .json();
        let in_flight = format!("uploads/{org}/{}", open["upload_id"].as_str().expect("id"));
        app.blob
            .put(&in_flight, b"soon".to_vec())
            .await
            .expect("uploaded, not completed");
        // A presigned PUT replayed after its upload completed lands on a closed upload.
        let replayed = format!("uploads/{org}/{}", kept["id"].as_str().expect("id"));
        app.blob
            .put(&replayed, b"again".to_vec())
            .await
            .expect("replayed upload");

        // What a crash in the middle of an upload leaves: a staged file (`key#n`) that no
        // listing shows.
        let mut abandoned = app
            .blob
            .writer(&format!("org/{org}/{}", FileId::new()))
            .await
            .expect("writer");
        abandoned.write(b"half"[..].into()).await.expect("write");
        std::mem::forget(abandoned);

        let patient = SweepFiles {
            store: app.store.clone(),
            blob: app.blob.clone(),
            grace: std::time::Duration::from_secs(3600),
        };
        patient
            .run(&job(SweepFiles::KIND, json!({})))
            .await
            .expect("sweeps");
        assert_eq!(
            stored_objects(&app).len(),
            5,
            "{backend:?}: young objects and writes are left alone"
        );

        let sweep = SweepFiles {
            store: app.store.clone(),
            blob: app.blob.clone(),
            grace: std::time::Duration::ZERO,
        };
        sweep
            .run(&job(SweepFiles::KIND, json!({})))
            .await
            .expect("sweeps");
        let left = stored_objects(&app);
        assert_eq!(
            left,
            {
                let mut expected = vec![
                    format!("org/{org}/{}", kept["id"].as_str().expect("id")),
                    in_flight.clone(),
                ];
                expected.sort();
                expected
            },
            "{backend:?}: the orphan, the replay and the abandoned write went; the file and the \
             open upload stay"
        );

        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
                .await
                .status,
            204
        );
        let purge = PurgeOrg {
            store: app.store.clone(),
            blob: app.blob.clone(),
            restore_period: std::time::Duration::ZERO,
        };
        purge
            .run(&job(PurgeOrg::KIND, json!({"org_id": org})))
            .await
            .expect("purges");
        assert!(
            stored_objects(&app).is_empty(),
            "{backend:?}: {:?}",
            stored_objects(&app)
        );
    }
}

#[tokio::test]
async fn a_failing_object_store_fails_file_routes_with_503_and_nothing_else() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Faults").await;
    let id = created_id(upload(&app, &owner, &org, "a.txt", "text/plain", b"abc".to_vec()).await);
    // The store's folder becomes a plain file: every object operation fails for real.
    std::fs::remove_dir_all(&app.files_dir).expect("remove store");
    std::fs::write(&app.files_dir, b"not a folder").expect("block store");

    upload(&app, &owner, &org, "b.txt", "text/plain", b"abc".to_vec())
        .await
        .problem(503, "object_store_unavailable");
    owner
        .get(&app, &format!("/v1/orgs/{org}/files/{id}/content"))
        .await
        .problem(503, "object_store_unavailable");
    let ready = app.get("/ready").await;
    let problem = ready.problem(503, "dependency_unavailable");
    assert_eq!(problem["checks"]["object_store"], "unavailable");
    assert_eq!(problem["checks"]["database"], "ok");
    // Metadata and the rest of the API still answer.
    assert_eq!(
        owner
            .get(&app, &format!("/v1/orgs/{org}/files/{id}"))
            .await
            .status,
        200
    );
    owner.create_project(&app, &org, "Still works").await;
    let files = owner
        .get(&app, &format!("/v1/orgs/{org}/files"))
        .await
        .json();
    assert_eq!(
        files["items"].as_array().map(Vec::len),
        Some(1),
        "the failed upload left no row"
    );
}

#[tokio::test]
async fn a_download_that_loses_its_object_answers_404_once_the_row_is_gone_too() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Gone").await;
        let id =
            created_id(upload(&app, &owner, &org, "a.txt", "text/plain", b"abc".to_vec()).await);
        // A presigned URL's grant gives the test the access a download runs with, so it
        // can act between the download's two steps: reading the row, opening the object.
        let url = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/files/{id}/presign-download"),
                json!({"expires_in": 60}),
            )
            .await
            .json()["url"]
            .as_str()
            .expect("url")
            .to_owned();
        let token = url.rsplit('/').next().expect("token");
        let grant = app
            .tenancy
            .verify_grant(token, GrantMethod::Get)
            .expect("grant");
        let (access, file_id) = app.tenancy.granted_read(&grant).await.expect("access");
        let row = app.tenancy.file(&access, file_id).await.expect("row");

        // The object alone lost, the row still there: the store really lost it.
        std::fs::rename(
            app.files_dir.join(format!("org/{org}/{id}")),
            app.files_dir.join("kept-aside"),
        )
        .expect("hide object");
        let lost = app.tenancy.download(&access, row.clone(), None).await;
        assert!(
            matches!(lost, Err(TenancyError::File(FileRefusal::StoreUnavailable))),
            "{backend:?}: {:?}",
            lost.err()
        );
        std::fs::rename(
            app.files_dir.join("kept-aside"),
            app.files_dir.join(format!("org/{org}/{id}")),
        )
        .expect("restore object");

        // A delete between the row read and the open: row and object both gone.
        let path = format!("/v1/orgs/{org}/files/{id}");
        assert_eq!(
            owner.call(&app, Method::DELETE, &path, None).await.status,
            204
        );
        let gone = app.tenancy.download(&access, row, None).await;
        assert!(
            matches!(gone, Err(TenancyError::NotFound)),
            "{backend:?}: {:?}",
            gone.err()
        );
        owner
            .get(&app, &format!("{path}/content"))
            .await
            .problem(404, "not_found");
    }
}
