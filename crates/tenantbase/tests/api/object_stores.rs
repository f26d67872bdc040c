//! The file API on real S3 (moto) and Azure Blob (Azurite) servers on loopback: streamed
//! multipart upload, ranged download, the stores' own presigned PUT and GET URLs and the
//! type those serve, deletion — and a store that stops answering.

use axum::http::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use tenantbase_blob::{AzureConfig, BlobConfig, BlobError, S3Config};
use tenantbase_core::tenancy::files::FilePolicy;
use tenantbase_testkit::emulators::{self, AZURITE_ACCOUNT, AZURITE_KEY, Emulator};

use crate::files::{created_id, get_with, upload};
use crate::helpers::{Backend, TestApp};
use crate::tenants::Caller;

const BUCKET: &str = "tenantbase-files";

fn s3(moto: &Emulator) -> BlobConfig {
    BlobConfig::S3(S3Config {
        bucket: BUCKET.to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: Some(moto.url.clone()),
        access_key_id: "AKIDTENANTBASE".to_owned(),
        secret_access_key: "not-a-secret".to_owned(),
        path_style: true,
    })
}

/// Bytes that differ at every offset, so a misplaced range shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The whole file API against `app`'s store, whose own URLs start with `store_url`.
async fn exercise(app: &TestApp, store_url: &str) {
    let owner = Caller::guest(app).await;
    let org = owner.create_org(app, "Stores").await;
    // Over one multipart part (5 MiB), so the upload takes several.
    let bytes = pattern(6 * 1024 * 1024 + 123);
    let created = upload(
        app,
        &owner,
        &org,
        "big.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let file = created.json();
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(&bytes)));
    let id = file["id"].as_str().expect("id").to_owned();
    let content = format!("/v1/orgs/{org}/files/{id}/content");
    let whole = owner.get(app, &content).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == bytes, "the whole file comes back");
    let part = get_with(
        app,
        Some(&owner),
        &content,
        &[("range", "bytes=5242870-5242889")],
    )
    .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[5_242_870..5_242_890]);

    // The store's own presigned PUT, then completion.
    let body = b"%PDF-1.7\nstraight to the store".to_vec();
    let presigned = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "direct.pdf", "content_type": "application/pdf", "size": body.len(),
                   "sha256": hex::encode(Sha256::digest(&body))}),
        )
        .await;
    assert_eq!(presigned.status, 201, "{}", presigned.text());
    let presigned = presigned.json();
    let url = presigned["url"].as_str().expect("url");
    assert!(url.starts_with(store_url), "a native URL: {url}");
    let upload_id = presigned["upload_id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::new();
    let mut put = client.put(url).body(body.clone());
    for (name, value) in presigned["headers"].as_object().expect("headers") {
        put = put.header(name.as_str(), value.as_str().expect("header value"));
    }
    let stored = put.send().await.expect("PUT to the store");
    assert!(
        stored.status().is_success(),
        "{}: {}",
        stored.status(),
        stored.text().await.unwrap_or_default()
    );
    let completed = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/uploads/{upload_id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(completed.status, 201, "{}", completed.text());
    assert_eq!(completed.json()["size"], body.len());

    // The URL stays valid, but the file's bytes are out of its reach now.
    let mut replay = client.put(url).body(b"%PDF-1.7\nreplaced".to_vec());
    for (name, value) in presigned["headers"].as_object().expect("headers") {
        replay = replay.header(name.as_str(), value.as_str().expect("header value"));
    }
    assert!(
        replay
            .send()
            .await
            .expect("PUT again")
            .status()
            .is_success()
    );
    let content = format!("/v1/orgs/{org}/files/{upload_id}/content");
    assert_eq!(
        owner.get(app, &content).await.body,
        body,
        "the recorded bytes stay"
    );

    // The store's own presigned GET, whole and ranged.
    let download = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/{upload_id}/presign-download"),
            json!({"expires_in": 300}),
        )
        .await
        .json();
    let url = download["url"].as_str().expect("url");
    assert!(url.starts_with(store_url), "{url}");
    let fetched = client.get(url).send().await.expect("GET from the store");
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.expect("body").as_ref(),
        body.as_slice()
    );
    let ranged = client
        .get(url)
        .header("range", "bytes=0-3")
        .send()
        .await
        .expect("GET");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.expect("body").as_ref(), b"%PDF");

    let deleted = owner
        .call(
            app,
            Method::DELETE,
            &format!("/v1/orgs/{org}/files/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let key = format!("org/{org}/{id}");
    assert!(
        matches!(app.blob.head(&key).await, Err(BlobError::NotFound)),
        "the object went with the row"
    );
}

#[tokio::test]
async fn files_work_on_an_s3_compatible_server() {
    let moto = emulators::moto();
    moto.create_bucket(BUCKET);
    let app = TestApp::with_files(Backend::Sqlite, FilePolicy::default(), Some(s3(&moto))).await;
    exercise(&app, &moto.url).await;
    assert_eq!(app.get("/ready").await.status, 200);
}

fn azure(azurite: &Emulator) -> BlobConfig {
    BlobConfig::Azure(AzureConfig {
        account: AZURITE_ACCOUNT.to_owned(),
        access_key: AZURITE_KEY.to_owned(),
        container: "files".to_owned(),
        endpoint: Some(format!("{}/{AZURITE_ACCOUNT}", azurite.url)),
    })
}

#[tokio::test]
async fn files_work_on_azure_blob_storage() {
    let azurite = emulators::azurite();
    azurite.create_container("files");
    let app = TestApp::with_files(
        Backend::Postgres,
        FilePolicy::default(),
        Some(azure(&azurite)),
    )
    .await;
    exercise(&app, &azurite.url).await;
}

/// The store keeps the type a presigned PUT declares (the URL does not sign it) and
/// serves it on its own download URLs: completion refuses a type other than the one
/// announced, and the upload stays open for a PUT with the right one.
async fn downloads_serve_the_announced_type(app: &TestApp) {
    let owner = Caller::guest(app).await;
    let org = owner.create_org(app, "Types").await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR and the rest".to_vec();
    let presigned = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "pic.png", "content_type": "image/png", "size": png.len()}),
        )
        .await;
    assert_eq!(presigned.status, 201, "{}", presigned.text());
    let presigned = presigned.json();
    let url = presigned["url"].as_str().expect("url");
    let upload_id = presigned["upload_id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::new();
    // The presign's headers, but the type given here (the builder adds, never replaces).
    let put = |content_type: &str| {
        let mut put = client
            .put(url)
            .header("content-type", content_type)
            .body(png.clone());
        for (name, value) in presigned["headers"].as_object().expect("headers") {
            if name != "content-type" {
                put = put.header(name.as_str(), value.as_str().expect("header value"));
            }
        }
        put
    };
    let complete = format!("/v1/orgs/{org}/files/uploads/{upload_id}/complete");

    let stored = put("text/html").send().await.expect("PUT to the store");
    assert!(stored.status().is_success(), "{}", stored.status());
    let refused = owner
        .post(app, &complete, json!({}))
        .await
        .problem(415, "content_type_mismatch");
    assert_eq!(refused["declared"], "image/png");
    assert_eq!(refused["detected"], "text/html");

    let stored = put("image/png").send().await.expect("PUT again");
    assert!(stored.status().is_success(), "{}", stored.status());
    let completed = owner.post(app, &complete, json!({})).await;
    assert_eq!(completed.status, 201, "{}", completed.text());
    assert_eq!(completed.json()["content_type"], "image/png");

    let download = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/{upload_id}/presign-download"),
            json!({"expires_in": 300}),
        )
        .await
        .json();
    let fetched = client
        .get(download["url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET from the store");
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/png"[..])
    );
    assert_eq!(
        fetched.bytes().await.expect("body").as_ref(),
        png.as_slice()
    );
}

#[tokio::test]
async fn s3_downloads_serve_the_announced_type() {
    let moto = emulators::moto();
    moto.create_bucket(BUCKET);
    let app = TestApp::with_files(Backend::Sqlite, FilePolicy::default(), Some(s3(&moto))).await;
    downloads_serve_the_announced_type(&app).await;
}

#[tokio::test]
async fn azure_downloads_serve_the_announced_type() {
    let azurite = emulators::azurite();
    azurite.create_container("files");
    let app = TestApp::with_files(
        Backend::Sqlite,
        FilePolicy::default(),
        Some(azure(&azurite)),
    )
    .await;
    downloads_serve_the_announced_type(&app).await;
}

#[tokio::test]
async fn a_stopped_object_store_answers_503_while_the_rest_of_the_api_works() {
    let mut moto = emulators::moto();
    moto.create_bucket(BUCKET);
    let app = TestApp::with_files(Backend::Sqlite, FilePolicy::default(), Some(s3(&moto))).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Outage").await;
    let id = created_id(
        upload(
            &app,
            &owner,
            &org,
            "a.txt",
            "text/plain",
            b"before".to_vec(),
        )
        .await,
    );
    moto.stop();

    let started = std::time::Instant::now();
    upload(
        &app,
        &owner,
        &org,
        "b.txt",
        "text/plain",
        b"during".to_vec(),
    )
    .await
    .problem(503, "object_store_unavailable");
    owner
        .get(&app, &format!("/v1/orgs/{org}/files/{id}/content"))
        .await
        .problem(503, "object_store_unavailable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "fails fast: {:?}",
        started.elapsed()
    );
    let ready = app
        .get("/ready")
        .await
        .problem(503, "dependency_unavailable");
    assert_ne!(ready["checks"]["object_store"], "ok");
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(
        owner
            .get(&app, &format!("/v1/orgs/{org}/files/{id}"))
            .await
            .status,
        200
    );
    owner.create_project(&app, &org, "unaffected").await;
}
