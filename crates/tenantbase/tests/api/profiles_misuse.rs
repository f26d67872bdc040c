//! Profiles and orgs against misbehaving clients, on both backends: avatars that are not
//! fit, racing uploads, who may see an avatar and how it is cached, and PATCH bodies that are
//! wrong everywhere at once (wrong types named with broken rules).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::files::{everything_stored, png};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::{Caller, add_member, verified};

async fn put_avatar(
    app: &TestApp,
    caller: &Caller,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> TestResponse {
    let mut request = Request::put("/v1/auth/me/avatar")
        .header("authorization", format!("Bearer {}", caller.token));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    app.send(request.body(Body::from(bytes)).expect("request"))
        .await
}

async fn get_with(app: &TestApp, caller: &Caller, path: &str, if_none_match: &str) -> u16 {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {}", caller.token))
        .header("if-none-match", if_none_match)
        .body(Body::empty())
        .expect("request");
    app.send(request).await.status.as_u16()
}

#[tokio::test]
async fn avatars_that_are_not_fit_images_are_refused_and_store_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let user = Caller::guest(&app).await;
        let refusals: [(Option<&str>, Vec<u8>, u16); 8] = [
            (Some("image/png"), b"plain words, no picture".to_vec(), 415),
            (Some("image/png"), png(1 << 30, 1 << 30, 0), 422),
            (Some("image/png"), png(64, 64, 0)[..20].to_vec(), 422),
            (
                Some("image/jpeg"),
                b"\xff\xd8\xff\xe0\0\x10JF".to_vec(),
                422,
            ),
            (None, png(64, 64, 10), 415),
            (Some("application/json"), png(64, 64, 10), 415),
            (Some("image/png"), Vec::new(), 422),
            (Some("image/png"), png(64, 64, 2 * 1024 * 1024), 413),
        ];
        for (content_type, bytes, status) in refusals {
            let refused = put_avatar(&app, &user, content_type, bytes).await;
            assert_eq!(
                refused.status.as_u16(),
                status,
                "{backend:?} {content_type:?}: {}",
                refused.text()
            );
            assert!(refused.json()["code"].is_string(), "{}", refused.text());
        }
        let me = user.get(&app, "/v1/auth/me").await.json();
        assert_eq!(me["profile"]["avatar_url"], Value::Null, "{backend:?}");
        assert!(everything_stored(&app).is_empty(), "{backend:?}");
    }
}

#[tokio::test]
async fn racing_avatar_uploads_leave_the_bytes_the_row_describes() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let user = Caller::guest(&app).await;
        let path = format!("/v1/users/{}/avatar", user.user_id);
        for round in 0..4 {
            let tasks: Vec<_> = (0..3)
                .map(|n| {
                    let (app, user) = (app.clone(), user.clone());
                    let image = png(16 + round, 16 + n, 10);
                    tokio::spawn(async move {
                        put_avatar(&app, &user, Some("image/png"), image)
                            .await
                            .status
                            .as_u16()
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for task in tasks {
                statuses.push(task.await.expect("task"));
            }
            assert!(
                statuses.iter().all(|s| [200, 409].contains(s)),
                "{statuses:?}"
            );
            assert!(statuses.contains(&200), "{backend:?}: {statuses:?}");
            let served = user.get(&app, &path).await;
            assert_eq!(served.status, 200, "{backend:?}");
            let stored = everything_stored(&app);
            assert_eq!(stored.len(), 1, "{backend:?}: {stored:?}");
            let bytes = std::fs::read(app.files_dir.join(&stored[0])).expect("stored");
            assert_eq!(bytes, served.body, "{backend:?} round {round}");
        }
    }
}

#[tokio::test]
async fn a_hidden_avatar_is_indistinguishable_from_none_and_never_shared_cached() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Team").await;
        let colleague = add_member(&app, &owner, &org, "colleague@example.com", &["member"]).await;
        let stranger = Caller::guest(&app).await;
        let declared = Some("Image/PNG; charset=binary");
        let set = put_avatar(&app, &owner, declared, png(32, 32, 10)).await;
        assert_eq!(set.status, 200, "{backend:?}: {}", set.text());
        let path = format!("/v1/users/{}/avatar", owner.user_id);
        let seen = colleague.get(&app, &path).await;
        assert_eq!(seen.status, 200, "{backend:?}");
        assert_eq!(seen.header("content-type"), Some("image/png"));
        let cache = seen.header("cache-control").unwrap_or_default().to_owned();
        assert!(
            cache.contains("private") || cache.contains("no-store"),
            "{cache}"
        );
        let etag = seen.header("etag").expect("etag").to_owned();
        assert_eq!(get_with(&app, &colleague, &path, &etag).await, 304);
        assert_eq!(
            get_with(&app, &colleague, &path, &format!("W/{etag}")).await,
            304
        );
        assert_eq!(get_with(&app, &colleague, &path, "*").await, 304);
        // Revalidation is no way around the rules: a stranger's ETag gets no 304.
        assert_eq!(get_with(&app, &stranger, &path, &etag).await, 404);

        owner
            .call(
                &app,
                Method::PATCH,
                "/v1/auth/me",
                Some(json!({"profile_visibility": "private"})),
            )
            .await;
        assert_eq!(get_with(&app, &colleague, &path, &etag).await, 404);
        let hidden = colleague.get(&app, &path).await;
        let none = colleague
            .get(&app, &format!("/v1/users/{}/avatar", stranger.user_id))
            .await;
        let absent = colleague
            .get(&app, "/v1/users/usr_00000000000000000000000000/avatar")
            .await;
        for refusal in [&hidden, &none, &absent] {
            let mut problem = refusal.problem(404, "not_found");
            problem["request_id"] = Value::Null;
            let mut first = hidden.json();
            first["request_id"] = Value::Null;
            assert_eq!(problem, first, "{backend:?}");
        }
    }
}

#[tokio::test]
async fn a_profile_patch_wrong_everywhere_names_every_field_and_an_empty_one_changes_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let user = Caller::guest(&app).await;
        let patch = |body: Value| user.call(&app, Method::PATCH, "/v1/auth/me", Some(body));
        let wrong = patch(json!({"display_name": 7, "bio": [], "profile_visibility": false})).await;
        assert_eq!(
            wrong.invalid_fields(),
            ["bio", "display_name", "profile_visibility"],
            "{backend:?}"
        );
        let empty = patch(json!({})).await;
        assert_eq!(empty.status, 200, "{backend:?}: {}", empty.text());
    }
}

#[tokio::test]
async fn org_patches_with_bad_slugs_and_fields_are_refused_whole() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Team").await;
        owner
            .post(&app, "/v1/orgs", json!({"name": "Other", "slug": "taken"}))
            .await;
        let member = add_member(&app, &owner, &org, "member@example.com", &["member"]).await;
        let path = format!("/v1/orgs/{org}");
        let patch = |body: Value| owner.call(&app, Method::PATCH, &path, Some(body));
        let wrong = patch(json!({"name": 1, "slug": [], "require_mfa": "yes"})).await;
        assert_eq!(
            wrong.invalid_fields(),
            ["name", "require_mfa", "slug"],
            "{backend:?}"
        );
        let long = "a".repeat(64);
        for slug in ["Acme", "ácme", "ac", long.as_str(), "a--", "-ab", "ab c"] {
            let refused = patch(json!({"slug": slug})).await;
            assert_eq!(refused.invalid_fields(), ["slug"], "{backend:?} {slug}");
        }
        patch(json!({"slug": "taken"}))
            .await
            .problem(409, "slug_taken");
        let own = owner.get(&app, &path).await.json()["slug"].clone();
        let same = patch(json!({"slug": own, "name": "Team"})).await;
        assert_eq!(same.status, 200, "{backend:?}: {}", same.text());
        let both = patch(json!({"name": "", "slug": "-taken"})).await;
        assert_eq!(both.invalid_fields(), ["name", "slug"], "{backend:?}");
        // A member of the wrong type is named with the others' broken rules.
        let mixed = patch(json!({"name": "", "require_mfa": "yes"})).await;
        assert_eq!(
            mixed.invalid_fields(),
            ["name", "require_mfa"],
            "{backend:?}"
        );
        member
            .call(
                &app,
                Method::PATCH,
                &path,
                Some(json!({"require_mfa": true})),
            )
            .await
            .problem(403, "permission_denied");
        let now = owner.get(&app, &path).await.json();
        assert_eq!(
            (&now["name"], &now["require_mfa"]),
            (&json!("Team"), &json!(false))
        );
    }
}

#[tokio::test]
async fn org_listing_and_reading_refuse_bad_ids_and_paging_without_a_500() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let other = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Mine").await;
        for path in [
            "/v1/orgs?limit=0",
            "/v1/orgs?limit=-1",
            "/v1/orgs?limit=abc",
            "/v1/orgs?limit=99999999999",
            "/v1/orgs?cursor=garbage",
            "/v1/orgs?cursor=",
            "/v1/orgs?cursor=%00",
        ] {
            let refused = owner.get(&app, path).await;
            assert_eq!(refused.invalid_fields().len(), 1, "{backend:?} {path}");
        }
        for path in [
            format!("/v1/orgs/{org}"),
            format!("/v1/orgs/{org}/me"),
            "/v1/orgs/org_00000000000000000000000000".to_owned(),
            "/v1/orgs/nonsense/me".to_owned(),
        ] {
            other.get(&app, &path).await.problem(404, "not_found");
        }
        let mine = owner.get(&app, &format!("/v1/orgs/{org}/me")).await.json();
        assert_eq!(mine["roles"], json!(["owner"]), "{mine}");
        let catalog = app.get("/v1/permissions").await;
        assert_eq!(catalog.status, 200);
    }
}

/// A removal racing uploads of the same image must never leave the row naming bytes that
/// are gone (keys were per image, and the removal's clean-up took the re-upload's bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_avatar_removed_while_the_same_image_is_set_again_keeps_its_bytes() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let user = Caller::guest(&app).await;
        let path = format!("/v1/users/{}/avatar", user.user_id);
        let images = [png(20, 20, 10), png(30, 30, 10)];
        for round in 0..60 {
            let (same, other) = (&images[round % 2], &images[(round + 1) % 2]);
            put_avatar(&app, &user, Some("image/png"), same.clone()).await;
            let (a, u) = (app.clone(), user.clone());
            let removal = tokio::spawn(async move {
                u.call(&a, Method::DELETE, "/v1/auth/me/avatar", None)
                    .await
                    .status
            });
            let uploads = [same.clone(), other.clone()].map(|image| {
                let (a, u) = (app.clone(), user.clone());
                tokio::spawn(
                    async move { put_avatar(&a, &u, Some("image/png"), image).await.status },
                )
            });
            removal.await.expect("removal");
            for upload in uploads {
                upload.await.expect("upload");
            }
            let me = user.get(&app, "/v1/auth/me").await.json();
            if me["profile"]["avatar_url"].is_string() {
                let served = user.get(&app, &path).await;
                assert_eq!(
                    served.status,
                    200,
                    "{backend:?} round {round}: {}",
                    served.text()
                );
            }
        }
    }
}
