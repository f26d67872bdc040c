//! Orgs through the API on both backends: create, list, read, rename, delete, restore and
//! purge, and the org's audit log.

use std::sync::Arc;

use axum::http::Method;
use serde_json::json;
use tenantbase_core::tenancy::TenancyPolicy;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

#[tokio::test]
async fn a_guest_creates_an_org_and_a_project_that_another_guest_cannot_see() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let alice = Caller::guest(&app).await;
        let org = alice.create_org(&app, "Acme Robotics").await;
        assert!(org.starts_with("org_"));
        let project = alice.create_project(&app, &org, "Launch").await;
        assert!(project.starts_with("prj_"));

        let list = alice.get(&app, &format!("/v1/orgs/{org}/projects")).await;
        assert_eq!(list.status, 200, "{}", list.text());
        assert_eq!(list.json()["items"][0]["id"], project.as_str());
        let orgs = alice.get(&app, "/v1/orgs").await.json();
        assert_eq!(orgs["items"][0]["id"], org.as_str());
        assert_eq!(orgs["items"][0]["name"], "Acme Robotics");
        assert!(
            orgs["items"][0]["slug"]
                .as_str()
                .unwrap()
                .starts_with("acme-robotics-")
        );

        let bob = Caller::guest(&app).await;
        for path in [
            format!("/v1/orgs/{org}"),
            format!("/v1/orgs/{org}/projects"),
            format!("/v1/orgs/{org}/projects/{project}"),
        ] {
            bob.get(&app, &path).await.problem(404, "not_found");
        }
        assert_eq!(bob.get(&app, "/v1/orgs").await.json()["items"], json!([]));
    }
}

#[tokio::test]
async fn the_creator_owns_the_org_and_sees_every_permission() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Owned").await;
        let me = owner.get(&app, &format!("/v1/orgs/{org}/me")).await.json();
        assert_eq!(me["roles"], json!(["owner"]));
        let catalog = owner.get(&app, "/v1/permissions").await.json();
        let all: Vec<_> = catalog["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(me["permissions"].as_array().unwrap(), &all);
        assert!(all.contains(&json!("projects:write")));
        let roles = owner
            .get(&app, &format!("/v1/orgs/{org}/roles"))
            .await
            .json();
        let names: Vec<_> = roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(
            names,
            [
                json!("owner"),
                json!("admin"),
                json!("member"),
                json!("viewer"),
                json!("guest")
            ]
        );
    }
}

#[tokio::test]
async fn slugs_are_validated_and_unique() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let created = owner
            .post(&app, "/v1/orgs", json!({"name": "A", "slug": "acme"}))
            .await;
        assert_eq!(created.status, 201);
        assert_eq!(created.json()["slug"], "acme");
        owner
            .post(&app, "/v1/orgs", json!({"name": "B", "slug": "acme"}))
            .await
            .problem(409, "slug_taken");
        let invalid = owner
            .post(&app, "/v1/orgs", json!({"name": " ", "slug": "-Bad"}))
            .await;
        let problem = invalid.problem(422, "validation_failed");
        let fields: Vec<_> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].clone())
            .collect();
        assert_eq!(fields, [json!("name"), json!("slug")]);
    }
}

#[tokio::test]
async fn a_deleted_org_disappears_until_restored_and_changes_are_audited() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Gone").await;
        owner.create_project(&app, &org, "p").await;
        let renamed = owner
            .call(
                &app,
                Method::PATCH,
                &format!("/v1/orgs/{org}"),
                Some(json!({"name": "Renamed"})),
            )
            .await;
        assert_eq!(renamed.json()["name"], "Renamed");
        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
                .await
                .status,
            204
        );
        owner
            .get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .problem(404, "not_found");
        assert_eq!(owner.get(&app, "/v1/orgs").await.json()["items"], json!([]));
        let purge = app.store.list_jobs(None, 100).await.unwrap();
        assert!(purge.iter().any(|j| j.kind == "org.purge"));
        let restored = owner
            .post(&app, &format!("/v1/orgs/{org}/restore"), json!({}))
            .await;
        assert_eq!(restored.status, 200, "{}", restored.text());
        assert_eq!(
            owner
                .get(&app, &format!("/v1/orgs/{org}/projects"))
                .await
                .status,
            200
        );

        let audit = owner
            .get(&app, &format!("/v1/orgs/{org}/audit"))
            .await
            .json();
        let types: Vec<_> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "org.restored",
                "org.deleted",
                "org.updated",
                "project.created",
                "org.created"
            ]
        );
        let only = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?type=project.created&limit=1"),
            )
            .await
            .json();
        assert_eq!(only["items"].as_array().unwrap().len(), 1);
        assert_eq!(only["items"][0]["actor_id"], owner.user_id.as_str());
        let page = owner
            .get(&app, &format!("/v1/orgs/{org}/audit?limit=2"))
            .await
            .json();
        let cursor = page["next_cursor"].as_str().unwrap();
        let next = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?limit=2&cursor={cursor}"),
            )
            .await
            .json();
        assert_eq!(next["items"][0]["type"], "org.updated");
        let verdict = owner
            .get(&app, &format!("/v1/orgs/{org}/audit/verify"))
            .await
            .json();
        assert_eq!(verdict["intact"], true, "{verdict}");
        assert_eq!(verdict["events"], 5);
    }
}

/// The audit log's `actor` is a user's or an API key's id: anything else is refused, not
/// answered with an empty page that reads as "they did nothing".
#[tokio::test]
async fn an_audit_actor_that_is_no_id_is_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Actors").await;
        let audit = |actor: &str| format!("/v1/orgs/{org}/audit?actor={actor}");
        for bad in [
            "bad",
            "usr_bad",
            "org_0190f0b8a1b27c3d8e9f0a1b2c3d4e5f",
            "system",
        ] {
            let refused = owner.get(&app, &audit(bad)).await;
            let problem = refused.problem(422, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], "actor", "{backend:?} {bad}");
        }
        let mine = owner.get(&app, &audit(&owner.user_id)).await.json();
        assert_eq!(
            mine["items"][0]["type"], "org.created",
            "{backend:?} {mine}"
        );
        let other = owner
            .get(&app, &audit("key_0190f0b8a1b27c3d8e9f0a1b2c3d4e5f"))
            .await
            .json();
        assert_eq!(other["items"], serde_json::json!([]), "{backend:?}");
    }
}

/// The audit log's window is `[since, until)`: one that holds no instant is refused, not
/// answered with an empty page that reads as "nothing happened".
#[tokio::test]
async fn an_audit_window_that_ends_before_it_starts_is_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Window").await;
        let audit =
            |since: &str, until: &str| format!("/v1/orgs/{org}/audit?since={since}&until={until}");
        let (early, late) = ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
        for (since, until) in [(late, early), (early, early)] {
            let refused = owner.get(&app, &audit(since, until)).await;
            let problem = refused.problem(422, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], "until", "{backend:?}");
            assert!(
                problem["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("since")),
                "{problem}"
            );
        }
        let open = owner
            .get(&app, &audit(early, "9999-12-31T23:59:59Z"))
            .await
            .json();
        assert_eq!(open["items"][0]["type"], "org.created", "{open}");
    }
}

#[tokio::test]
async fn the_purge_job_removes_a_deleted_org_once_its_restore_period_is_over() {
    use tenantbase_core::jobs::{JobContext, JobHandler};
    use tenantbase_core::tenancy::PurgeOrg;

    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let kept = owner.create_org(&app, "Kept").await;
        let doomed = owner.create_org(&app, "Doomed").await;
        owner.create_project(&app, &kept, "stays").await;
        owner.create_project(&app, &doomed, "goes").await;
        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("/v1/orgs/{doomed}"), None)
                .await
                .status,
            204
        );
        let job = app
            .store
            .list_jobs(None, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.kind == PurgeOrg::KIND)
            .expect("a purge is scheduled");
        let run = JobContext {
            id: job.id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            attempt: 1,
        };

        // Still within the restore period: nothing happens.
        let patient = PurgeOrg {
            store: app.store.clone(),
            blob: app.blob.clone(),
            restore_period: std::time::Duration::from_secs(3600),
        };
        patient.run(&run).await.expect("runs");
        assert_eq!(
            owner
                .post(&app, &format!("/v1/orgs/{doomed}/restore"), json!({}))
                .await
                .status,
            200
        );
        let restored = owner
            .get(&app, &format!("/v1/orgs/{doomed}/projects"))
            .await
            .json();
        assert_eq!(
            restored["items"].as_array().unwrap().len(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("/v1/orgs/{doomed}"), None)
                .await
                .status,
            204
        );

        let due = PurgeOrg {
            store: app.store.clone(),
            blob: app.blob.clone(),
            restore_period: std::time::Duration::ZERO,
        };
        due.run(&run).await.expect("purges");
        owner
            .post(&app, &format!("/v1/orgs/{doomed}/restore"), json!({}))
            .await
            .problem(404, "not_found");
        let scope = tenantbase_store::OrgScope::for_checked_org(doomed.parse().unwrap());
        let mut unit = app.store.read_org(&scope).await.unwrap();
        assert!(matches!(
            unit.org().await,
            Err(tenantbase_store::StoreError::NotFound)
        ));
        let everything = tenantbase_store::org::projects::ProjectQuery {
            include_deleted: true,
            limit: 100,
            ..Default::default()
        };
        assert!(unit.projects(&everything).await.unwrap().is_empty());
        assert!(unit.roles().await.unwrap().is_empty());
        drop(unit);
        // The other org is untouched, and running the purge again is harmless.
        assert_eq!(
            owner
                .get(&app, &format!("/v1/orgs/{kept}/projects"))
                .await
                .json()["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        due.run(&run).await.expect("idempotent");
    }
}

/// The statuses of `method path` sent by `caller` four times at once, sorted.
pub(crate) async fn four_at_once(
    app: &Arc<TestApp>,
    caller: &Caller,
    method: Method,
    path: &str,
) -> Vec<u16> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (app, caller, method, path) =
                (app.clone(), caller.clone(), method.clone(), path.to_owned());
            tokio::spawn(
                async move { caller.call(&app, method, &path, None).await.status.as_u16() },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses.sort();
    statuses
}

#[tokio::test]
async fn concurrent_deletions_and_restorations_of_an_org_take_turns() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = Caller::guest(&app).await;
        for round in 0..3 {
            let org = owner.create_org(&app, &format!("Race {round}")).await;
            let path = format!("/v1/orgs/{org}");
            let deleted = four_at_once(&app, &owner, Method::DELETE, &path).await;
            assert_eq!(deleted, [204, 404, 404, 404], "{backend:?} round {round}");
            let restored =
                four_at_once(&app, &owner, Method::POST, &format!("{path}/restore")).await;
            assert_eq!(restored, [200, 409, 409, 409], "{backend:?} round {round}");
        }
        let jobs = app.store.list_jobs(None, 100).await.expect("jobs");
        let purges = jobs.iter().filter(|j| j.kind == "org.purge").count();
        assert_eq!(purges, 3, "{backend:?}: one purge per deletion");
    }
}

#[tokio::test]
async fn concurrent_changes_of_different_org_fields_both_stay() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Before").await;
        let path = format!("/v1/orgs/{org}");
        for round in 0..5 {
            let (name, slug) = (format!("Name {round}"), format!("slug-{round}"));
            let tasks = [json!({"name": name}), json!({"slug": slug})].map(|body| {
                let (app, owner, path) = (app.clone(), owner.clone(), path.clone());
                tokio::spawn(async move {
                    let patched = owner.call(&app, Method::PATCH, &path, Some(body)).await;
                    patched.status.as_u16()
                })
            });
            for task in tasks {
                assert_eq!(task.await.expect("task"), 200);
            }
            let now = owner.get(&app, &path).await.json();
            assert_eq!(
                (&now["name"], &now["slug"]),
                (&json!(name), &json!(slug)),
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_org_cannot_be_restored_once_its_restore_period_is_over() {
    for backend in BOTH {
        let app = TestApp::with_tenancy(
            backend,
            TenancyPolicy {
                restore_period: std::time::Duration::ZERO,
                ..TenancyPolicy::default()
            },
        )
        .await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Gone").await;
        let path = format!("/v1/orgs/{org}");
        let deleted = owner.call(&app, Method::DELETE, &path, None).await;
        assert_eq!(deleted.status, 204, "{backend:?}: {}", deleted.text());
        // The purge job has not run yet; the period is over all the same.
        owner
            .post(&app, &format!("{path}/restore"), json!({}))
            .await
            .problem(404, "not_found");
        owner.get(&app, &path).await.problem(404, "not_found");
    }
}
