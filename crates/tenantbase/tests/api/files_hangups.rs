//! A client that hangs up cannot cut a presigned upload's completion short, against the
//! real binary on both backends: the completion runs to its end in a task of its own (or,
//! if the server had not started it, never starts), so the file appears or a retry makes
//! it appear, and the upload is never left claimed — whether the completion comes
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

/// Sends the whole request and closes the socket without waiting for the answer. A server
/// quick enough to answer and close first must have completed the upload.
async fn send_then_hang_up(target: &Target, request: RawRequest) {
    let answer = send_and_hang_up(&target.server.addr, request, Duration::ZERO).await;
    assert!(
        matches!(answer, None | Some((201, _))),
        "answered before the hang-up: {answer:?}"
    );
}

/// Waits (up to 20 s) for the upload's file to exist, then checks that completing the
/// upload again returns that file: it is not held by a claim nobody will finish.
///
/// A hung-up request may also never start: when the client's FIN is already there as
/// the server reads the request, hyper drops it before its handler first runs, and
/// nothing was acknowledged. So, as a client would, this sends `retry` (the same
/// completion, answer awaited) after a while; it may answer 409 `upload_completing`
/// while the first one still runs, never for good.
async fn assert_completed(
    target: &mut Target,
    token: &str,
    org: &str,
    id: &str,
    retry: impl Fn() -> RawRequest,
) {
    let file_url = target.url(&format!("/v1/orgs/{org}/files/{id}"));
    let started = Instant::now();
    let mut retried_at = started;
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
        if started.elapsed() > Duration::from_secs(20) {
            let log = target.server.lines_so_far().join("\n");
            panic!("upload {id} never completed; the server's log:\n{log}");
        }
        if retried_at.elapsed() > Duration::from_secs(2) {
            retried_at = Instant::now();
            let answer = send_and_hang_up(&target.server.addr, retry(), Duration::from_secs(5))
                .await
                .map(|(status, _)| status);
            assert!(
                matches!(answer, Some(200 | 201 | 409)),
                "retried completion: {answer:?}"
            );
        }
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
    let mut target = Target::start(postgres).await;
    let (token, org) = target.server.guest_with_org("Hang-ups").await;

    // The local store's presigned PUT completes the upload in the same request.
    let (put_id, path) = presign(&target, &token, &org).await;
    let put = || RawRequest::new("PUT", &path, &token, "application/pdf", PDF.to_vec());
    send_then_hang_up(&target, put()).await;

    // The bytes reach the store without this server (an S3 or Azure client's PUT), then
    // the client asks for completion and hangs up.
    let (complete_id, _) = presign(&target, &token, &org).await;
    let staged = target
        .dir
        .path()
        .join(format!("data/files/uploads/{org}/{complete_id}"));
    std::fs::create_dir_all(staged.parent().expect("folder")).expect("staging folder");
    std::fs::write(&staged, PDF).expect("staged bytes");
    let complete_path = format!("/v1/orgs/{org}/files/uploads/{complete_id}/complete");
    let complete = || {
        RawRequest::new(
            "POST",
            &complete_path,
            &token,
            "application/json",
            b"{}".to_vec(),
        )
    };
    send_then_hang_up(&target, complete()).await;

    assert_completed(&mut target, &token, &org, &put_id, put).await;
    assert_completed(&mut target, &token, &org, &complete_id, complete).await;
}

#[tokio::test]
async fn hang_ups_cannot_cut_an_upload_completion_short_on_sqlite() {
    hang_ups_cannot_cut_an_upload_completion_short(false).await;
}

#[tokio::test]
async fn hang_ups_cannot_cut_an_upload_completion_short_on_postgres() {
    hang_ups_cannot_cut_an_upload_completion_short(true).await;
}
