//! A client that hangs up cannot cut a presigned upload's completion short, against the
//! real binary on both backends: the completion runs to its end in a task of its own, so
//! the file appears and the upload is not left claimed — whether the completion comes
//! from the local store's `PUT /v1/blobs/…` or from `POST …/complete` after the bytes
//! reached the store directly (as with S3 or Azure).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hangups::{RawRequest, Target, client, post_json, send_and_hang_up};

const PDF: &[u8] = b"%PDF-1.7\nbytes whose client hung up";

/// Opens a presigned upload of [`PDF`]: (upload id, the URL's path).
async fn presign(target: &Target, token: &str, org: &str) -> (String, String) {
    let presigned = post_json(
        &client(),
        target.url(&format!("/v1/orgs/{org}/files/presign")),
        token,
        json!({"name": "hung-up.pdf", "content_type": "application/pdf", "size": PDF.len()}),
    )
    .await;
    let url = presigned["url"].as_str().expect("url");
    let path = &url[url.find("/v1/blobs/").expect("a local blob URL")..];
    let id = presigned["upload_id"].as_str().expect("upload id");
    (id.to_owned(), path.to_owned())
}

/// Sends the whole request and closes the socket without reading a byte of the answer.
async fn send_then_hang_up(target: &Target, request: RawRequest) {
    let answer = send_and_hang_up(&target.server.addr, request, Duration::ZERO).await;
    assert!(answer.is_none(), "hung up before any answer: {answer:?}");
}

/// Waits (up to 20 s) for the upload's file to exist, then checks that completing the
/// upload again returns that file: it is not held by a claim nobody will finish.
async fn assert_completed(target: &Target, token: &str, org: &str, id: &str) {
    let file_url = target.url(&format!("/v1/orgs/{org}/files/{id}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = client()
            .get(&file_url)
            .bearer_auth(token)
            .send()
            .await
            .expect("file metadata");
        if response.status() == 200 {
            let file: Value = response.json().await.expect("json");
            assert_eq!(file["size"], PDF.len());
            break;
        }
        assert_eq!(response.status(), 404, "{:?}", response.text().await);
        assert!(Instant::now() < deadline, "upload {id} never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = post_json(
        &client(),
        target.url(&format!("/v1/orgs/{org}/files/uploads/{id}/complete")),
        token,
        json!({}),
    )
    .await;
    assert_eq!(again["id"], id);
}

async fn hang_ups_cannot_cut_an_upload_completion_short(postgres: bool) {
    let target = Target::start(postgres).await;
    let (token, org) = target.server.guest_with_org("Hang-ups").await;

    // The local store's presigned PUT completes the upload in the same request.
    let (put_id, path) = presign(&target, &token, &org).await;
    let put = RawRequest::new("PUT", &path, &token, "application/pdf", PDF.to_vec());
    send_then_hang_up(&target, put).await;

    // The bytes reach the store without this server (an S3 or Azure client's PUT), then
    // the client asks for completion and hangs up.
    let (complete_id, _) = presign(&target, &token, &org).await;
    let staged = target
        .dir
        .path()
        .join(format!("data/files/uploads/{org}/{complete_id}"));
    std::fs::create_dir_all(staged.parent().expect("folder")).expect("staging folder");
    std::fs::write(&staged, PDF).expect("staged bytes");
    let complete = RawRequest::new(
        "POST",
        &format!("/v1/orgs/{org}/files/uploads/{complete_id}/complete"),
        &token,
        "application/json",
        b"{}".to_vec(),
    );
    send_then_hang_up(&target, complete).await;

    assert_completed(&target, &token, &org, &put_id).await;
    assert_completed(&target, &token, &org, &complete_id).await;
}

#[tokio::test]
async fn hang_ups_cannot_cut_an_upload_completion_short_on_sqlite() {
    hang_ups_cannot_cut_an_upload_completion_short(false).await;
}

#[tokio::test]
async fn hang_ups_cannot_cut_an_upload_completion_short_on_postgres() {
    hang_ups_cannot_cut_an_upload_completion_short(true).await;
}
