//! Two uploads racing for an org's last bytes cannot both win, on both backends: both pass
//! the early budget check while their bodies are still streaming, and the check under the
//! org's lock lets exactly one of them in.

use axum::body::Body;
use axum::http::Request;
use tokio::sync::mpsc;

use crate::files::{small_quota, stored_objects, upload};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::Caller;

/// An upload request whose body (no declared length) arrives as the test feeds it.
pub(crate) fn fed_upload(
    caller: &Caller,
    org: &str,
    name: &str,
) -> (Request<Body>, mpsc::Sender<Vec<u8>>) {
    // Room for one chunk: a second send returns only once the handler took the first.
    let (feed, chunks) = mpsc::channel::<Vec<u8>>(1);
    let body = futures::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let request = Request::post(format!("/v1/orgs/{org}/files?name={name}"))
        .header("authorization", format!("Bearer {}", caller.token))
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(body))
        .expect("request");
    (request, feed)
}

/// Feeds 500 bytes to each upload in two chunks, so that both handlers are reading their
/// bodies (past the early budget check) before either body ends.
async fn feed_both(first: mpsc::Sender<Vec<u8>>, second: mpsc::Sender<Vec<u8>>) {
    for feed in [&first, &second] {
        feed.send(vec![7; 250]).await.expect("handler reads");
    }
    // Each of these sends returns once its handler took the first chunk.
    for feed in [&first, &second] {
        feed.send(vec![7; 250]).await.expect("handler reads");
    }
    // Dropping the feeds ends both bodies after their buffered second chunk.
}

#[tokio::test]
async fn two_uploads_racing_for_the_last_bytes_cannot_both_win() {
    for backend in BOTH {
        // Quota 1000 bytes: after 450 used, one more 500-byte file fits, two do not.
        let app = TestApp::with_files(backend, small_quota(), None).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Race").await;
        let first = upload(
            &app,
            &owner,
            &org,
            "first.bin",
            "application/octet-stream",
            vec![1; 450],
        )
        .await;
        assert_eq!(first.status, 201, "{}", first.text());

        let (one, feed_one) = fed_upload(&owner, &org, "one.bin");
        let (two, feed_two) = fed_upload(&owner, &org, "two.bin");
        let (one, two, ()) =
            tokio::join!(app.send(one), app.send(two), feed_both(feed_one, feed_two));

        let (won, lost): (Vec<&TestResponse>, Vec<&TestResponse>) =
            [&one, &two].into_iter().partition(|r| r.status == 201);
        assert_eq!(
            (won.len(), lost.len()),
            (1, 1),
            "{backend:?}: {} / {}",
            one.text(),
            two.text()
        );
        let problem = lost[0].problem(507, "quota_exceeded");
        assert_eq!(problem["limit"], "org_quota_bytes");
        assert_eq!(problem["used_bytes"], 950, "the winner's bytes count");

        let listed = owner
            .get(&app, &format!("/v1/orgs/{org}/files"))
            .await
            .json();
        let items = listed["items"].as_array().expect("items");
        let used: u64 = items
            .iter()
            .map(|file| file["size"].as_u64().expect("size"))
            .sum();
        assert_eq!((items.len(), used), (2, 950), "{backend:?}: {listed}");
        assert_eq!(
            stored_objects(&app).len(),
            2,
            "{backend:?}: the loser's bytes are removed"
        );
    }
}
