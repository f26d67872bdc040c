//! Profiles (DATA-3): display name, bio and visibility on `PATCH /v1/auth/me`; avatars
//! validated on upload and shown only to the user and — unless private — fellow members.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use crate::files::{everything_stored, png};
use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::tenants::{Caller, add_member, verified};

async fn put_avatar(
    app: &TestApp,
    caller: &Caller,
    content_type: &str,
    bytes: Vec<u8>,
) -> TestResponse {
    let request = Request::put("/v1/auth/me/avatar")
        .header("authorization", format!("Bearer {}", caller.token))
        .header("content-type", content_type)
        .body(Body::from(bytes))
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn profile_fields_change_with_patch_me() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let user = Caller::guest(&app).await;
        let patched = user
            .call(&app, Method::PATCH, "/v1/auth/me",
                Some(json!({"display_name": "  Ada  ", "bio": "Counts things.", "profile_visibility": "private"})))
            .await;
        assert_eq!(patched.status, 200, "{backend:?}: {}", patched.text());
        let profile = patched.json();
        assert_eq!(profile["display_name"], "Ada");
        assert_eq!(profile["bio"], "Counts things.");
        assert_eq!(profile["profile_visibility"], "private");
        assert_eq!(profile["avatar_url"], serde_json::Value::Null);
        let me = user.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["profile"], profile);
        assert_eq!(me["user"]["display_name"], "Ada");

        let cleared = user
            .call(
                &app,
                Method::PATCH,
                "/v1/auth/me",
                Some(json!({"bio": null})),
            )
            .await
            .json();
        assert_eq!(cleared["bio"], serde_json::Value::Null);
        assert_eq!(cleared["display_name"], "Ada", "absent fields stay");

        let bad = user
            .call(&app, Method::PATCH, "/v1/auth/me",
                Some(json!({"display_name": "", "bio": "x".repeat(1001), "profile_visibility": "public"})))
            .await;
        let fields: Vec<String> = bad.problem(422, "validation_failed")["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(fields, ["display_name", "bio", "profile_visibility"]);
        user.call(
            &app,
            Method::PATCH,
            "/v1/auth/me",
            Some(json!({"nickname": "x"})),
        )
        .await
        .problem(422, "validation_failed");
        let anonymous = app
            .call(
                Method::PATCH,
                "/v1/auth/me",
                "application/json",
                json!({}).to_string(),
            )
            .await;
        anonymous.problem(401, "missing_token");
    }
}

#[tokio::test]
async fn avatars_are_checked_and_shown_only_to_who_may_see_them() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = verified(&app, "owner@example.com").await;
    let org = owner.create_org(&app, "Team").await;
    let colleague = add_member(&app, &owner, &org, "colleague@example.com", &["member"]).await;
    let stranger = Caller::guest(&app).await;

    // Over the general body limit (1 MiB), within the avatar's own (2 MiB).
    let large = png(512, 512, 1536 * 1024);
    assert_eq!(
        put_avatar(&app, &owner, "image/png", large).await.status,
        200
    );
    let image = png(64, 64, 100);
    let set = put_avatar(&app, &owner, "image/png", image.clone()).await;
    assert_eq!(set.status, 200, "{}", set.text());
    let url = set.json()["avatar_url"]
        .as_str()
        .expect("avatar url")
        .to_owned();
    assert!(url.starts_with(&format!("/v1/users/{}/avatar", owner.user_id)));

    // The positive control for the end: the listing sees the avatar's bytes, and only the
    // current avatar's (the large one it replaced is gone).
    let stored = everything_stored(&app);
    assert_eq!(stored.len(), 1, "one avatar stored: {stored:?}");
    assert_eq!(
        std::fs::read(app.files_dir.join(&stored[0])).expect("stored avatar"),
        image
    );

    let path = format!("/v1/users/{}/avatar", owner.user_id);
    for viewer in [&owner, &colleague] {
        let seen = viewer.get(&app, &path).await;
        assert_eq!(seen.status, 200, "{}", seen.text());
        assert_eq!(seen.body, image);
        assert_eq!(seen.header("content-type"), Some("image/png"));
    }
    stranger.get(&app, &path).await.problem(404, "not_found");
    app.get(&path).await.problem(401, "missing_token");
    let etag = owner
        .get(&app, &path)
        .await
        .header("etag")
        .expect("etag")
        .to_owned();
    let conditional = |name: &str, value: &str| {
        Request::get(&path)
            .header("authorization", format!("Bearer {}", owner.token))
            .header(name, value)
            .body(Body::empty())
            .expect("request")
    };
    let revalidated = app.send(conditional("if-none-match", &etag)).await;
    assert_eq!(revalidated.status, 304);
    // A client that holds another version learns it changed rather than mixing the two.
    let sure = app.send(conditional("if-match", &etag)).await;
    assert_eq!(sure.body, image);
    let changed = app.send(conditional("if-match", "\"an-older-one\"")).await;
    changed.problem(412, "precondition_failed");

    owner
        .call(
            &app,
            Method::PATCH,
            "/v1/auth/me",
            Some(json!({"profile_visibility": "private"})),
        )
        .await;
    colleague.get(&app, &path).await.problem(404, "not_found");
    assert_eq!(
        owner.get(&app, &path).await.status,
        200,
        "always visible to its owner"
    );

    put_avatar(&app, &owner, "image/png", b"GIF89a not a png".to_vec())
        .await
        .problem(415, "content_type_mismatch");
    put_avatar(&app, &owner, "text/plain", b"hello".to_vec())
        .await
        .problem(415, "content_type_mismatch");
    put_avatar(&app, &owner, "image/png", png(5000, 10, 0))
        .await
        .problem(422, "validation_failed");
    put_avatar(&app, &owner, "image/png", b"\x89PNG\r\n\x1a\n".to_vec())
        .await
        .problem(422, "validation_failed");
    put_avatar(&app, &owner, "image/png", png(10, 10, 2 * 1024 * 1024))
        .await
        .problem(413, "payload_too_large");
    let unchanged = owner.get(&app, &path).await;
    assert_eq!(unchanged.body, image, "refused uploads keep the old avatar");
    colleague
        .get(&app, &format!("/v1/users/{}/avatar", colleague.user_id))
        .await
        .problem(404, "not_found");
    let removed = owner
        .call(&app, Method::DELETE, "/v1/auth/me/avatar", None)
        .await;
    assert_eq!(removed.status, 204);
    owner.get(&app, &path).await.problem(404, "not_found");
    owner
        .call(&app, Method::DELETE, "/v1/auth/me/avatar", None)
        .await
        .problem(404, "not_found");
    let left = everything_stored(&app);
    assert!(
        left.is_empty(),
        "replaced and removed avatars leave no bytes: {left:?}"
    );
    stranger
        .get(&app, "/v1/users/not-an-id/avatar")
        .await
        .problem(404, "not_found");
}
