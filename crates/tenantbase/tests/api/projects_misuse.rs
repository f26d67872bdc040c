//! Project bulk calls, import, export and restore with misbehaving clients, on both
//! backends: every bad item named at once and nothing written, races resolved one way, and
//! an export the client abandons or races with writes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::orgs::four_at_once;
use crate::projects::raw;
use crate::tenants::Caller;

async fn import(
    app: &TestApp,
    caller: &Caller,
    org: &str,
    content_type: &str,
    body: &[u8],
) -> TestResponse {
    let path = format!("/v1/orgs/{org}/projects/import");
    raw(
        app,
        caller,
        Method::POST,
        &path,
        content_type,
        body.to_vec(),
    )
    .await
}

async fn live_names(app: &TestApp, caller: &Caller, org: &str) -> Vec<String> {
    let page = caller
        .get(app, &format!("/v1/orgs/{org}/projects?sort=name&limit=100"))
        .await
        .json();
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn a_bulk_create_names_every_bad_item_at_once_and_creates_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let items = json!([
            {"name": ""},
            {"name": "x", "metadata": 5},
            7,
            {"name": 5},
            {"name": "ok", "colour": "red"},
            {"description": "no name"},
            {"name": "fine"},
        ]);
        let refused = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects/bulk"),
                json!({ "items": items }),
            )
            .await;
        assert_eq!(
            refused.invalid_fields(),
            [
                "items[0].name",
                "items[1].metadata",
                "items[2]",
                "items[3].name",
                "items[4].colour",
                "items[5].name"
            ],
            "{backend:?}"
        );
        assert!(
            live_names(&app, &owner, &org).await.is_empty(),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_bulk_delete_names_every_bad_id_at_once_and_deletes_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let other_org = owner.create_org(&app, "Q").await;
        let a = owner.create_project(&app, &org, "a").await;
        let gone = owner.create_project(&app, &org, "gone").await;
        let deleted = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/projects/{gone}"),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204);
        let foreign = owner.create_project(&app, &other_org, "elsewhere").await;
        let ids = json!(["nonsense", a, "prj_1", a, foreign, gone]);
        let refused = owner
            .post(
                &app,
                &format!("/v1/orgs/{org}/projects/bulk-delete"),
                json!({ "ids": ids }),
            )
            .await;
        assert_eq!(
            refused.invalid_fields(),
            ["ids[0]", "ids[2]", "ids[3]", "ids[4]", "ids[5]"],
            "{backend:?}"
        );
        let errors = refused.json()["errors"].clone();
        assert_eq!(errors[2]["message"], "repeats ids[1]", "{backend:?}");
        // Another org's project reads exactly as one that does not exist.
        assert_eq!(errors[3]["message"], errors[4]["message"], "{backend:?}");
        assert_eq!(live_names(&app, &owner, &org).await, ["a"], "{backend:?}");
    }
}

#[tokio::test]
async fn an_import_names_every_bad_row_whether_unreadable_or_invalid() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let jsonl = b"{\"name\": \"\"}\n{\"name\n{\"name\": \"ok\"}\n";
        let refused = import(&app, &owner, &org, "application/x-ndjson", jsonl).await;
        assert_eq!(
            refused.invalid_fields(),
            ["rows[0].name", "rows[1]"],
            "{backend:?}"
        );
        let csv = b"name,metadata\n,{}\nx,{broken\n,{broken\nok,{}\n";
        let refused = import(&app, &owner, &org, "text/csv", csv).await;
        assert_eq!(
            refused.invalid_fields(),
            [
                "rows[0].name",
                "rows[1].metadata",
                "rows[2].metadata",
                "rows[2].name"
            ],
            "{backend:?}"
        );
        assert!(
            live_names(&app, &owner, &org).await.is_empty(),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_import_past_the_row_limit_is_one_problem_however_bad_its_rows() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        // One unreadable row must not have every other row of an oversized file checked
        // and named: 10,001 problems from 120 KB.
        let mut jsonl = b"x\n".to_vec();
        jsonl.extend(b"{\"name\": \"\"}\n".repeat(10_000));
        let refused = import(&app, &owner, &org, "application/x-ndjson", &jsonl).await;
        assert_eq!(refused.invalid_fields(), ["rows"], "{backend:?}");
        let mut csv = b"name,metadata\nx,{broken\n".to_vec();
        csv.extend(b",{}\n".repeat(10_000));
        let refused = import(&app, &owner, &org, "text/csv", &csv).await;
        assert_eq!(refused.invalid_fields(), ["rows"], "{backend:?}");
    }
}

#[tokio::test]
async fn an_import_may_start_with_a_byte_order_mark() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let jsonl = b"\xEF\xBB\xBF{\"name\": \"from jsonl\"}\n";
        let imported = import(&app, &owner, &org, "application/x-ndjson", jsonl).await;
        assert_eq!(imported.status, 201, "{backend:?}: {}", imported.text());
        let csv = b"\xEF\xBB\xBFname,description\nfrom csv,d\n";
        let imported = import(&app, &owner, &org, "text/csv", csv).await;
        assert_eq!(imported.status, 201, "{backend:?}: {}", imported.text());
        assert_eq!(
            live_names(&app, &owner, &org).await,
            ["from csv", "from jsonl"],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_csv_import_cut_short_inside_a_quoted_cell_imports_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        // The export quotes a multi-line description; the upload stopped inside it.
        let cut = b"name,description\nfirst,\"line one\nline";
        let refused = import(&app, &owner, &org, "text/csv", cut).await;
        assert_eq!(refused.invalid_fields(), ["rows"], "{backend:?}");
        assert!(
            live_names(&app, &owner, &org).await.is_empty(),
            "{backend:?}"
        );
        let whole = b"name,description\nfirst,\"line one\nline two\"\n";
        let imported = import(&app, &owner, &org, "text/csv", whole).await;
        assert_eq!(imported.status, 201, "{backend:?}: {}", imported.text());
    }
}

#[tokio::test]
async fn a_csv_import_keeps_a_quote_inside_an_unquoted_cell_as_text() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        // A hand-written file may hold an inch mark in an unquoted cell; the reader keeps it.
        let csv = b"name,description\n27\" monitor,desk \"A\"\nlamp,\"say \"\"hi\"\"\"\n";
        let imported = import(&app, &owner, &org, "text/csv", csv).await;
        assert_eq!(imported.status, 201, "{backend:?}: {}", imported.text());
        assert_eq!(
            live_names(&app, &owner, &org).await,
            ["27\" monitor", "lamp"],
            "{backend:?}"
        );
        // A quote that opens a cell and never closes is still refused.
        let open = b"name\n\"open\nnext\" one\n\"";
        let refused = import(&app, &owner, &org, "text/csv", open).await;
        assert_eq!(refused.invalid_fields(), ["rows"], "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_restores_of_a_project_restore_it_once() {
    const ROUNDS: usize = 5;
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        for round in 0..ROUNDS {
            let project = owner.create_project(&app, &org, &format!("r{round}")).await;
            let path = format!("/v1/orgs/{org}/projects/{project}");
            let deleted = four_at_once(&app, &owner, Method::DELETE, &path).await;
            assert_eq!(deleted, [204, 404, 404, 404], "{backend:?} round {round}");
            let restore = format!("{path}/restore");
            let restored = four_at_once(&app, &owner, Method::POST, &restore).await;
            assert_eq!(restored, [200, 409, 409, 409], "{backend:?} round {round}");
        }
        let events = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?type=project.restored&limit=100"),
            )
            .await
            .json();
        let restorations = events["items"].as_array().expect("items").len();
        assert_eq!(restorations, ROUNDS, "{backend:?}: one event per restore");
    }
}

#[tokio::test]
async fn an_abandoned_export_leaves_the_org_writable_and_a_raced_one_misses_nothing() {
    const OLD: usize = 1_200;
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        // Several export pages, each bulk call's rows sharing one `created_at`.
        for batch in 0..OLD / 100 {
            let items: Vec<Value> = (0..100)
                .map(|i| json!({"name": format!("old {batch}-{i}")}))
                .collect();
            let created = owner
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/projects/bulk"),
                    json!({ "items": items }),
                )
                .await;
            assert_eq!(created.status, 201, "{}", created.text());
        }
        let export = format!("/v1/orgs/{org}/projects/export");
        let request = Request::get(&export)
            .header("authorization", format!("Bearer {}", owner.token))
            .body(Body::empty())
            .expect("request");
        let response = app.router.clone().oneshot(request).await.expect("router");
        let mut body = response.into_body();
        assert!(body.frame().await.is_some(), "{backend:?}: a first frame");
        drop(body);
        owner.create_project(&app, &org, "after the hang-up").await;

        let writer = {
            let (app, owner, org) = (app.clone(), owner.clone(), org.clone());
            tokio::spawn(async move {
                for i in 0..30 {
                    owner.create_project(&app, &org, &format!("new {i}")).await;
                }
            })
        };
        let exported = owner.get(&app, &export).await;
        writer.await.expect("writer");
        assert_eq!(exported.status, 200, "{backend:?}");
        let mut names: Vec<String> = exported
            .text()
            .lines()
            .map(|line| {
                let row: Value = serde_json::from_str(line).expect("a JSON line");
                row["name"].as_str().expect("name").to_owned()
            })
            .collect();
        let lines = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), lines, "{backend:?}: no row twice");
        let old = names.iter().filter(|n| n.starts_with("old ")).count();
        assert_eq!(old, OLD, "{backend:?}: every row that existed throughout");
    }
}

#[tokio::test]
async fn an_import_raced_with_a_bulk_delete_both_land_whole() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        for round in 0..3 {
            let items: Vec<Value> = (0..100)
                .map(|i| json!({"name": format!("doomed {round}-{i}")}))
                .collect();
            let created = owner
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/projects/bulk"),
                    json!({ "items": items }),
                )
                .await;
            assert_eq!(created.status, 201, "{}", created.text());
            let ids: Vec<Value> = created.json()["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|p| p["id"].clone())
                .collect();
            let rows: String = (0..100)
                .map(|i| format!("{{\"name\": \"kept {round}-{i}\"}}\n"))
                .collect();
            let importer = {
                let (app, owner, org) = (app.clone(), owner.clone(), org.clone());
                tokio::spawn(async move {
                    import(&app, &owner, &org, "application/x-ndjson", rows.as_bytes())
                        .await
                        .status
                })
            };
            let deleted = owner
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/projects/bulk-delete"),
                    json!({ "ids": ids }),
                )
                .await;
            assert_eq!(deleted.json(), json!({"deleted": 100}), "{backend:?}");
            assert_eq!(importer.await.expect("importer"), 201, "{backend:?}");
        }
        let export = owner
            .get(&app, &format!("/v1/orgs/{org}/projects/export"))
            .await
            .text();
        assert_eq!(export.lines().count(), 300, "{backend:?}");
        assert!(!export.contains("doomed"), "{backend:?}");
    }
}

#[tokio::test]
async fn a_member_repeated_inside_metadata_is_refused_not_dropped() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let projects = format!("/v1/orgs/{org}/projects");
        let send = async |method: Method, path: &str, content_type: &str, body: &str| {
            raw(&app, &owner, method, path, content_type, body.to_owned()).await
        };
        let json = "application/json";
        let repeated = r#"{"name": "p", "metadata": {"tier": "gold", "n": 1, "tier": "lead"}}"#;
        let created = send(Method::POST, &projects, json, repeated).await;
        assert_eq!(created.invalid_fields(), ["metadata.tier"], "{backend:?}");

        let bulk = format!(r#"{{"items": [{{"name": "ok"}}, {repeated}]}}"#);
        let created = send(Method::POST, &format!("{projects}/bulk"), json, &bulk).await;
        assert_eq!(created.invalid_fields(), ["items[1].metadata.tier"]);
        let twice = r#"{"items": [{"name": "a", "name": "b"}]}"#;
        let created = send(Method::POST, &format!("{projects}/bulk"), json, twice).await;
        assert_eq!(created.invalid_fields(), ["items[0].name"]);

        let project = owner.create_project(&app, &org, "kept").await;
        let patch = r#"{"metadata": {"a": [{"b": 1, "b": 1}]}}"#;
        let path = format!("{projects}/{project}");
        let patched = send(Method::PATCH, &path, json, patch).await;
        assert_eq!(patched.invalid_fields(), ["metadata.a[0].b"]);

        let jsonl = format!("{repeated}\n");
        let import = format!("{projects}/import");
        let imported = send(Method::POST, &import, "application/x-ndjson", &jsonl).await;
        assert_eq!(imported.invalid_fields(), ["rows[0]"]);
        let csv = "name,metadata\np,\"{\"\"a\"\": 1, \"\"a\"\": 2}\"\n";
        let imported = send(Method::POST, &import, "text/csv", csv).await;
        let problem = imported.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "rows[0].metadata");
        let why = problem["errors"][0]["message"].as_str().expect("message");
        assert!(why.contains("duplicate field `a`"), "{why}");

        let live = live_names(&app, &owner, &org).await;
        assert_eq!(live, ["kept"], "{backend:?}: nothing else written");
        let kept = owner.get(&app, &path).await.json();
        assert_eq!(kept["metadata"], json!({}), "{backend:?}");
    }
}
