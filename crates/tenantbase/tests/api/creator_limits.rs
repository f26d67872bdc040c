//! What one user may create, on both backends: orgs (capped per guest and per account,
//! 409 `limit_reached`) and storage across every org they created (507 `quota_exceeded`
//! with `limit: "creator_quota_bytes"`).

use serde_json::json;
use tenantbase_core::tenancy::files::FilePolicy;

use crate::files::upload;
use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

#[tokio::test]
async fn orgs_created_are_capped_per_guest_and_per_account() {
    for backend in BOTH {
        // The defaults: 5 for a guest, 100 for an account.
        let app = TestApp::new(backend).await;
        let guest = Caller::guest(&app).await;
        for n in 0..5 {
            guest.create_org(&app, &format!("Guest {n}")).await;
        }
        let refused = guest
            .post(&app, "/v1/orgs", json!({"name": "One too many"}))
            .await;
        let problem = refused.problem(409, "limit_reached");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains('5')),
            "{problem}"
        );
        let listed = guest.get(&app, "/v1/orgs").await.json();
        assert_eq!(
            listed["items"].as_array().map(Vec::len),
            Some(5),
            "{backend:?}: the refused org was not created"
        );

        // An account is below its cap where a guest is at it; a creation that fails
        // for another reason counts nothing.
        let ada = Caller::registered(&app, "ada@example.com").await;
        let squatter = Caller::guest(&app).await;
        let taken = squatter.create_org(&app, "Taken").await;
        let slug = squatter
            .get(&app, &format!("/v1/orgs/{taken}"))
            .await
            .json()["slug"]
            .as_str()
            .expect("slug")
            .to_owned();
        ada.post(&app, "/v1/orgs", json!({"name": "Mine", "slug": slug}))
            .await
            .problem(409, "slug_taken");
        for n in 0..6 {
            ada.create_org(&app, &format!("Ada {n}")).await;
        }
    }
}

#[tokio::test]
async fn orgs_created_stop_at_a_configured_cap() {
    for backend in BOTH {
        let app = TestApp::with_tenancy(
            backend,
            tenantbase_core::tenancy::TenancyPolicy {
                max_orgs_created_per_guest: 0,
                max_orgs_created_per_user: 2,
                ..Default::default()
            },
        )
        .await;
        Caller::guest(&app)
            .await
            .post(&app, "/v1/orgs", json!({"name": "No"}))
            .await
            .problem(409, "limit_reached");
        let ada = Caller::registered(&app, "ada@example.com").await;
        let first = ada.create_org(&app, "One").await;
        ada.create_org(&app, "Two").await;
        // Deleting does not give the slot back (only the purge does): else a loop of
        // create and delete would have no bound.
        let deleted = ada
            .call(
                &app,
                axum::http::Method::DELETE,
                &format!("/v1/orgs/{first}"),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text());
        ada.post(&app, "/v1/orgs", json!({"name": "Three"}))
            .await
            .problem(409, "limit_reached");
    }
}

fn creator_quota() -> FilePolicy {
    FilePolicy {
        quota_bytes: 1000,
        creator_quota_bytes: 1500,
        max_file_bytes: 600,
        ..FilePolicy::default()
    }
}

#[tokio::test]
async fn two_orgs_of_one_creator_share_the_creator_quota() {
    for backend in BOTH {
        let app = TestApp::with_files(backend, creator_quota(), None).await;
        let owner = Caller::guest(&app).await;
        let (one, two) = (
            owner.create_org(&app, "One").await,
            owner.create_org(&app, "Two").await,
        );
        let put = |org: &str, size: usize| {
            let (owner, org, app) = (owner.clone(), org.to_owned(), &app);
            async move {
                upload(
                    app,
                    &owner,
                    &org,
                    "part.bin",
                    "application/octet-stream",
                    vec![7; size],
                )
                .await
            }
        };
        let mut first = None;
        for (org, size) in [(&one, 450), (&one, 450), (&two, 450)] {
            let stored = put(org, size).await;
            assert_eq!(stored.status, 201, "{}", stored.text());
            first.get_or_insert(stored.json()["id"].as_str().expect("id").to_owned());
        }
        // Org two holds 450 of its 1000, but its creator 1350 of 1500.
        let over = put(&two, 450).await;
        let problem = over.problem(507, "quota_exceeded");
        assert_eq!(problem["limit"], "creator_quota_bytes", "{backend:?}");
        assert_eq!(problem["quota_bytes"], 1500);
        assert_eq!(problem["used_bytes"], 1350);
        // Announced sizes are refused the same way, presigned or not.
        owner
            .post(
                &app,
                &format!("/v1/orgs/{two}/files/presign"),
                json!({"name": "p.bin", "content_type": "application/octet-stream", "size": 200}),
            )
            .await
            .problem(507, "quota_exceeded");
        // A deleted file gives its bytes back to the creator too.
        let first = first.expect("a stored file");
        let deleted = owner
            .call(
                &app,
                axum::http::Method::DELETE,
                &format!("/v1/orgs/{one}/files/{first}"),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text());
        assert_eq!(put(&two, 450).await.status, 201);
        // Another user's orgs have their own creator quota.
        let other = Caller::guest(&app).await;
        let theirs = other.create_org(&app, "Theirs").await;
        let fits = upload(
            &app,
            &other,
            &theirs,
            "x.bin",
            "application/octet-stream",
            vec![1; 450],
        )
        .await;
        assert_eq!(fits.status, 201, "{}", fits.text());
    }
}
