//! Presigned URLs on the local store: `/v1/blobs/{token}` uploads and downloads, tamper,
//! expiry and method checks, and presigned uploads reserving quota until completed.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::files::{get_with, sha256, small_quota};
use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::tenants::Caller;

async fn presign_download(
    app: &TestApp,
    caller: &Caller,
    org: &str,
    file: &str,
    expires_in: u64,
) -> TestResponse {
    let path = format!("/v1/orgs/{org}/files/{file}/presign-download");
    caller
        .post(app, &path, json!({"expires_in": expires_in}))
        .await
}

/// `/v1/blobs/…` of a local presigned URL, as a path the test router serves.
pub(crate) fn blob_path(url: &str) -> String {
    let start = url.find("/v1/blobs/").expect("a local blob URL");
    url[start..].to_owned()
}

pub(crate) async fn put_blob(
    app: &TestApp,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> TestResponse {
    let request = Request::put(path)
        .header("content-type", content_type)
        .body(Body::from(bytes))
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn local_presigned_urls_upload_and_download_and_refuse_tampering() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Presigned").await;
        let bytes = b"%PDF-1.7\npresigned body".to_vec();
        let presigned = owner
            .post(&app, &format!("/v1/orgs/{org}/files/presign"),
                json!({"name": "direct.pdf", "content_type": "application/pdf", "size": bytes.len(), "sha256": sha256(&bytes)}))
            .await;
        assert_eq!(presigned.status, 201, "{}", presigned.text());
        let presigned = presigned.json();
        assert_eq!(presigned["method"], "PUT");
        let upload_id = presigned["upload_id"]
            .as_str()
            .expect("upload id")
            .to_owned();
        let url = presigned["url"].as_str().expect("url");
        assert!(url.starts_with("http://127.0.0.1:8080/v1/blobs/"), "{url}");
        let path = blob_path(url);

        // The URL is for PUT only; a changed token is refused.
        let wrong = get_with(&app, None, &path, &[]).await;
        wrong.problem(405, "method_not_allowed");
        assert_eq!(wrong.header("allow"), Some("PUT"));
        let mut tampered = path.clone();
        let last = tampered.pop().expect("char");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        put_blob(&app, &tampered, "application/pdf", bytes.clone())
            .await
            .problem(403, "invalid_signature");
        put_blob(&app, &format!("{path}x"), "application/pdf", bytes.clone())
            .await
            .problem(403, "invalid_signature");
        put_blob(
            &app,
            &path,
            "application/pdf",
            b"%PDF-1.7\nother body that is longer".to_vec(),
        )
        .await
        .problem(413, "quota_exceeded");
        put_blob(
            &app,
            &path,
            "application/pdf",
            b"%PDF-1.7\npresigned bodx".to_vec(),
        )
        .await
        .problem(422, "validation_failed");

        let stored = put_blob(&app, &path, "application/pdf", bytes.clone()).await;
        assert_eq!(stored.status, 201, "{}", stored.text());
        assert_eq!(stored.json()["id"], upload_id.as_str());
        assert_eq!(stored.json()["sha256"], sha256(&bytes));
        let completed = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/files/uploads/{upload_id}/complete"),
                json!({}),
            )
            .await;
        assert_eq!(completed.status, 201, "completing again returns the file");
        assert_eq!(completed.json()["id"], upload_id.as_str());
        put_blob(&app, &path, "application/pdf", bytes.clone())
            .await
            .problem(404, "not_found");

        let download = presign_download(&app, &owner, &org, &upload_id, 60).await;
        assert_eq!(download.status, 200, "{}", download.text());
        let get_path = blob_path(download.json()["url"].as_str().expect("url"));
        let audit = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?type=file.download_presigned"),
            )
            .await
            .json();
        assert_eq!(audit["items"][0]["target_id"], upload_id.as_str());
        let fetched = get_with(&app, None, &get_path, &[]).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.body, bytes);
        let ranged = get_with(&app, None, &get_path, &[("range", "bytes=0-3")]).await;
        assert_eq!(
            (ranged.status.as_u16(), ranged.body.as_slice()),
            (206, &b"%PDF"[..])
        );
        // The conditional and range answers of the content route, as its document says.
        let etag = fetched.header("etag").expect("etag").to_owned();
        let unchanged = get_with(&app, None, &get_path, &[("if-none-match", &etag)]).await;
        assert_eq!(unchanged.status, 304);
        get_with(&app, None, &get_path, &[("range", "bytes=999999-")])
            .await
            .problem(416, "range_not_satisfiable");
        let wrong = put_blob(&app, &get_path, "application/pdf", bytes.clone()).await;
        wrong.problem(405, "method_not_allowed");
        assert_eq!(wrong.header("allow"), Some("GET"));
        presign_download(&app, &owner, &org, &upload_id, 0)
            .await
            .problem(422, "validation_failed");

        let short = presign_download(&app, &owner, &org, &upload_id, 1).await;
        let short_path = blob_path(short.json()["url"].as_str().expect("url"));
        let expired = wait_until_refused(&app, &short_path).await;
        expired.problem(403, "url_expired");

        let deleted = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/files/{upload_id}"),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text());
        get_with(&app, None, &get_path, &[])
            .await
            .problem(404, "not_found");
    }
}

/// Fetches `path` until it stops answering 200 (up to 10 s), and returns that answer.
async fn wait_until_refused(app: &TestApp, path: &str) -> TestResponse {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = get_with(app, None, path, &[]).await;
        if response.status != 200 {
            return response;
        }
        assert!(Instant::now() < deadline, "{path} was still served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn presigned_uploads_count_against_the_quota_and_check_what_arrives() {
    let app = TestApp::with_files(Backend::Sqlite, small_quota(), None).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Reserve").await;
    let presign = |size: usize| json!({"name": "r.bin", "content_type": "application/octet-stream", "size": size});
    owner
        .post(&app, &format!("/v1/orgs/{org}/files/presign"), presign(601))
        .await
        .problem(413, "quota_exceeded");
    let first = owner
        .post(&app, &format!("/v1/orgs/{org}/files/presign"), presign(500))
        .await;
    assert_eq!(first.status, 201);
    let second = owner
        .post(&app, &format!("/v1/orgs/{org}/files/presign"), presign(600))
        .await;
    assert_eq!(
        second.problem(507, "quota_exceeded")["used_bytes"],
        500,
        "the open upload is reserved"
    );
    let bad = owner
        .post(
            &app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "a/b", "content_type": "x", "size": 1, "sha256": "zz"}),
        )
        .await;
    let fields: Vec<Value> = bad.problem(422, "validation_failed")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![json!("name"), json!("content_type"), json!("sha256")]
    );

    let upload_id = first.json()["upload_id"].as_str().expect("id").to_owned();
    let early = owner
        .post(
            &app,
            &format!("/v1/orgs/{org}/files/uploads/{upload_id}/complete"),
            json!({}),
        )
        .await;
    early.problem(409, "upload_incomplete");
    owner
        .post(
            &app,
            &format!("/v1/orgs/{org}/files/uploads/fil_00000000000000000000000000/complete"),
            json!({}),
        )
        .await
        .problem(404, "not_found");
}

/// A presign's 422 names every invalid field at once: those that are absent or of the
/// wrong type with those whose values are refused.
#[tokio::test]
async fn a_presign_names_every_invalid_field_at_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Fields").await;
        let presign = format!("/v1/orgs/{org}/files/presign");
        for (body, fields) in [
            (
                json!({"name": "", "content_type": "nope", "size": "x", "expires_in": 0}),
                &["content_type", "expires_in", "name", "size"][..],
            ),
            (
                json!({"content_type": "nope", "sha256": "zz", "expires_in": 3601, "bogus": 1}),
                &[
                    "bogus",
                    "content_type",
                    "expires_in",
                    "name",
                    "sha256",
                    "size",
                ][..],
            ),
        ] {
            let refused = owner.post(&app, &presign, body.clone()).await;
            assert_eq!(refused.invalid_fields(), fields, "{backend:?}: {body}");
        }
    }
}

/// Only a presigned upload completes: a directly uploaded file's id is no upload (404),
/// while a completed upload's completion, repeated, still answers with its file.
#[tokio::test]
async fn completing_a_direct_uploads_id_finds_no_upload() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Direct").await;
        let complete = |id: &str| format!("/v1/orgs/{org}/files/uploads/{id}/complete");
        let direct = crate::files::created_id(
            crate::files::upload(&app, &owner, &org, "d.txt", "text/plain", b"d".to_vec()).await,
        );
        owner
            .post(&app, &complete(&direct), json!({}))
            .await
            .problem(404, "not_found");
        let kept = owner
            .get(&app, &format!("/v1/orgs/{org}/files/{direct}"))
            .await;
        assert_eq!(kept.status, 200, "{backend:?}: {}", kept.text());

        let presigned = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/files/presign"),
                json!({"name": "p.txt", "content_type": "text/plain", "size": 1}),
            )
            .await
            .json();
        let url = blob_path(presigned["url"].as_str().expect("url"));
        let upload =
            crate::files::created_id(put_blob(&app, &url, "text/plain", b"p".to_vec()).await);
        let again = owner.post(&app, &complete(&upload), json!({})).await;
        assert_eq!(again.status, 201, "{backend:?}: {}", again.text());
        assert_eq!(again.json()["id"], upload.as_str());
    }
}

#[tokio::test]
async fn urls_signed_with_an_api_key_die_with_the_key() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Keys").await;
    let created = owner
        .post(
            &app,
            &format!("/v1/orgs/{org}/api-keys"),
            json!({"name": "downloads", "permissions": ["files:read", "files:write"]}),
        )
        .await
        .json();
    let key = owner.with_token(created["secret"].as_str().expect("secret"));
    let file = crate::files::created_id(
        crate::files::upload(&app, &key, &org, "k.txt", "text/plain", b"by key".to_vec()).await,
    );
    let url = presign_download(&app, &key, &org, &file, 300).await.json()["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let path = blob_path(&url);
    assert_eq!(get_with(&app, None, &path, &[]).await.body, b"by key");

    let key_id = created["id"].as_str().expect("key id");
    let revoked = owner
        .call(
            &app,
            axum::http::Method::DELETE,
            &format!("/v1/orgs/{org}/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204);
    get_with(&app, None, &path, &[])
        .await
        .problem(404, "not_found");
}
