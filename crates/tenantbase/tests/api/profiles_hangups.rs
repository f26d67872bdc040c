//! A client that hangs up halfway through an avatar upload, against the real binary on
//! both backends: the next upload is answered at once and its image is the one served.

use std::time::Duration;

use crate::files::png;
use crate::hangups::{RawRequest, Target, client, send_and_hang_up};

async fn half_an_avatar_then_a_whole_one(postgres: bool) {
    let target = Target::start(postgres).await;
    let token = target.server.guest_token().await;
    let half = png(256, 256, 1024 * 1024);
    let cut = half.len() / 2;
    for _ in 0..3 {
        let request = RawRequest::new(
            "PUT",
            "/v1/auth/me/avatar",
            &token,
            "image/png",
            half.clone(),
        )
        .cut_at(cut);
        let answer = send_and_hang_up(&target.server.addr, request, Duration::ZERO).await;
        assert!(answer.is_none(), "answered a half body: {answer:?}");
    }
    let whole = png(32, 32, 10);
    // `client()` gives up after 5 s: the hung-up uploads hold nothing the next one needs.
    let set = client()
        .put(target.url("/v1/auth/me/avatar"))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(whole.clone())
        .send()
        .await
        .expect("answered promptly");
    assert_eq!(set.status(), 200, "{:?}", set.text().await);
    let profile: serde_json::Value = set.json().await.expect("json");
    let url = profile["avatar_url"].as_str().expect("avatar url");
    let served = client()
        .get(target.url(url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        served.bytes().await.expect("bytes").as_ref(),
        whole.as_slice()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_half_avatar_uploads_on_sqlite_the_next_is_answered_and_served() {
    half_an_avatar_then_a_whole_one(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_half_avatar_uploads_on_postgres_the_next_is_answered_and_served() {
    half_an_avatar_then_a_whole_one(true).await;
}
