//! Projects through the API on both backends: CRUD with soft delete, lists (pagination,
//! sort, filters, search), bulk operations, export and import.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn projects_are_created_changed_deleted_and_restored() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let base = format!("/v1/orgs/{org}/projects");
        let created = owner
            .post(
                &app,
                &base,
                json!({"name": "  Apollo ", "description": "to the moon", "metadata": {"tier": 1}}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let project = created.json();
        assert_eq!(project["name"], "Apollo");
        assert_eq!(project["org_id"], org.as_str());
        assert_eq!(project["created_by"], owner.user_id.as_str());
        let id = project["id"].as_str().unwrap();
        let path = format!("{base}/{id}");
        assert_eq!(owner.get(&app, &path).await.json(), project);

        let patched = owner
            .call(
                &app,
                Method::PATCH,
                &path,
                Some(json!({"description": null, "metadata": {"tier": 2}})),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text());
        let patched = patched.json();
        assert_eq!(
            (patched["name"].clone(), patched["description"].clone()),
            (json!("Apollo"), json!(null))
        );
        assert_eq!(patched["metadata"], json!({"tier": 2}));

        assert_eq!(
            owner.call(&app, Method::DELETE, &path, None).await.status,
            204
        );
        owner.get(&app, &path).await.problem(404, "not_found");
        owner
            .call(&app, Method::DELETE, &path, None)
            .await
            .problem(404, "not_found");
        assert_eq!(owner.get(&app, &base).await.json()["items"], json!([]));
        let with_deleted = owner
            .get(&app, &format!("{base}?include_deleted=true"))
            .await
            .json();
        assert!(with_deleted["items"][0]["deleted_at"].is_string());
        let restored = owner
            .post(&app, &format!("{path}/restore"), json!({}))
            .await;
        assert_eq!(restored.status, 200, "{}", restored.text());
        assert_eq!(restored.json()["deleted_at"], json!(null));
        owner
            .post(&app, &format!("{path}/restore"), json!({}))
            .await
            .problem(409, "not_deleted");
    }
}

#[tokio::test]
async fn bad_project_input_is_a_422_naming_each_field() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let base = format!("/v1/orgs/{org}/projects");
        let big = "x".repeat(16 * 1024);
        let problem = owner
            .post(
                &app,
                &base,
                json!({"name": "", "description": "ok", "metadata": {"blob": big}}),
            )
            .await
            .problem(422, "validation_failed");
        let fields: Vec<_> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].clone())
            .collect();
        assert_eq!(fields, [json!("name"), json!("metadata")]);
        owner
            .post(&app, &base, json!({"name": "a", "metadata": [1]}))
            .await
            .problem(422, "validation_failed");
        owner
            .post(&app, &base, json!({"name": "a", "colour": "red"}))
            .await
            .problem(422, "validation_failed");
        for query in [
            "limit=0",
            "limit=101",
            "sort=size",
            "order=up",
            "cursor=garbage",
            "created_by=prj_1",
            "limit=x",
        ] {
            owner
                .get(&app, &format!("{base}?{query}"))
                .await
                .problem(422, "validation_failed");
        }
        owner
            .get(&app, &format!("{base}/prj_nope"))
            .await
            .problem(404, "not_found");
        owner
            .get(&app, &format!("{base}/not-an-id"))
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test]
async fn lists_page_sort_filter_and_search() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let base = format!("/v1/orgs/{org}/projects");
        let items: Vec<Value> = [
            "delta",
            "Alpha rocket",
            "charlie",
            "bravo rocket launch",
            "echo",
        ]
        .iter()
        .map(|name| json!({"name": name, "description": format!("{name} notes")}))
        .collect();
        let bulk = owner
            .post(&app, &format!("{base}/bulk"), json!({"items": items}))
            .await;
        assert_eq!(bulk.status, 201, "{}", bulk.text());
        let later = owner.create_project(&app, &org, "foxtrot").await;

        // Newest first by default, two at a time, every project once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = cursor
                .as_ref()
                .map_or(String::new(), |c| format!("&cursor={c}"));
            let page = owner
                .get(&app, &format!("{base}?limit=2{query}"))
                .await
                .json();
            seen.extend(names(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[0], "foxtrot");

        let by_name = owner
            .get(&app, &format!("{base}?sort=name&limit=3"))
            .await
            .json();
        assert_eq!(
            names(&by_name),
            ["Alpha rocket", "bravo rocket launch", "charlie"]
        );
        let cursor = by_name["next_cursor"].as_str().unwrap();
        let rest = owner
            .get(&app, &format!("{base}?sort=name&limit=3&cursor={cursor}"))
            .await
            .json();
        assert_eq!(names(&rest), ["delta", "echo", "foxtrot"]);
        let desc = owner
            .get(&app, &format!("{base}?sort=name&order=desc&limit=1"))
            .await
            .json();
        assert_eq!(names(&desc), ["foxtrot"]);
        owner
            .get(&app, &format!("{base}?sort=created_at&cursor={cursor}"))
            .await
            .problem(422, "validation_failed");

        let search = owner.get(&app, &format!("{base}?q=rocket")).await.json();
        let mut found = names(&search);
        found.sort();
        assert_eq!(found, ["Alpha rocket", "bravo rocket launch"]);
        assert_eq!(
            names(
                &owner
                    .get(&app, &format!("{base}?q=roc%20laun"))
                    .await
                    .json()
            ),
            ["bravo rocket launch"]
        );
        assert_eq!(
            names(
                &owner
                    .get(&app, &format!("{base}?q=NOTES%20echo"))
                    .await
                    .json()
            ),
            ["echo"]
        );
        assert_eq!(
            owner.get(&app, &format!("{base}?q=zulu")).await.json()["items"],
            json!([])
        );
        // Query syntax of either engine is only text here.
        assert_eq!(
            owner
                .get(&app, &format!("{base}?q=%22%29%20OR%20*%3A"))
                .await
                .status,
            200
        );
        let paged = owner
            .get(&app, &format!("{base}?q=rocket&limit=1"))
            .await
            .json();
        let cursor = paged["next_cursor"].as_str().expect("more matches");
        let second = owner
            .get(&app, &format!("{base}?q=rocket&limit=1&cursor={cursor}"))
            .await
            .json();
        assert_eq!(second["items"].as_array().unwrap().len(), 1);
        assert_ne!(second["items"][0]["id"], paged["items"][0]["id"]);
        // A relevance cursor is a position in one search's results: not another's.
        for other in ["q=echo", "q=rocket&include_deleted=true"] {
            let problem = owner
                .get(&app, &format!("{base}?{other}&limit=1&cursor={cursor}"))
                .await
                .problem(422, "validation_failed");
            assert_eq!(
                problem["errors"][0]["field"], "cursor",
                "{other}: {problem}"
            );
        }

        let foxtrot = owner.get(&app, &format!("{base}/{later}")).await.json();
        let at = foxtrot["created_at"].as_str().unwrap().replace('+', "%2B");
        let before = owner
            .get(&app, &format!("{base}?created_before={at}"))
            .await
            .json();
        assert_eq!(before["items"].as_array().unwrap().len(), 5);
        assert_eq!(
            owner
                .get(&app, &format!("{base}?created_after={at}"))
                .await
                .json()["items"],
            json!([])
        );
        let mine = owner
            .get(&app, &format!("{base}?created_by={}", owner.user_id))
            .await
            .json();
        assert_eq!(mine["items"].as_array().unwrap().len(), 6);
    }
}

#[tokio::test]
async fn bulk_operations_are_all_or_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "P").await;
        let other_org = owner.create_org(&app, "Q").await;
        let base = format!("/v1/orgs/{org}/projects");
        let problem = owner
            .post(
                &app,
                &format!("{base}/bulk"),
                json!({"items": [{"name": "ok"}, {"name": ""}, {"name": "fine"}]}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "items[1].name");
        assert_eq!(owner.get(&app, &base).await.json()["items"], json!([]));
        let too_many: Vec<Value> = (0..101).map(|i| json!({"name": format!("p{i}")})).collect();
        owner
            .post(&app, &format!("{base}/bulk"), json!({"items": too_many}))
            .await
            .problem(422, "validation_failed");

        let a = owner.create_project(&app, &org, "a").await;
        let b = owner.create_project(&app, &org, "b").await;
        let foreign = owner.create_project(&app, &other_org, "elsewhere").await;
        let refused = owner
            .post(
                &app,
                &format!("{base}/bulk-delete"),
                json!({"ids": [a, foreign]}),
            )
            .await;
        assert_eq!(
            refused.problem(422, "validation_failed")["errors"][0]["field"],
            "ids[1]"
        );
        assert_eq!(
            owner.get(&app, &base).await.json()["items"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let deleted = owner
            .post(&app, &format!("{base}/bulk-delete"), json!({"ids": [a, b]}))
            .await;
        assert_eq!(deleted.json(), json!({"deleted": 2}));
        assert_eq!(owner.get(&app, &base).await.json()["items"], json!([]));

        let audit = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/audit?type=project.bulk_deleted"),
            )
            .await
            .json();
        assert_eq!(audit["items"][0]["payload"]["ids"], json!([a, b]));
    }
}

/// A request with `body` sent as it is, under `content_type`.
pub(crate) async fn raw(
    app: &TestApp,
    caller: &Caller,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> crate::helpers::TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", caller.token))
        .header("content-type", content_type)
        .body(body.into())
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn export_round_trips_through_import_and_bad_rows_import_nothing() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let source = owner.create_org(&app, "Source").await;
        let target = owner.create_org(&app, "Target").await;
        let mut items: Vec<Value> = (0..3)
            .map(|i| json!({"name": format!("p{i}, \"quoted\""), "description": "multi\nline", "metadata": {"i": i}}))
            .collect();
        items.push(json!({"name": "=HYPERLINK(\"x\")"}));
        owner
            .post(
                &app,
                &format!("/v1/orgs/{source}/projects/bulk"),
                json!({"items": items}),
            )
            .await;

        for (format, content_type) in [("jsonl", "application/x-ndjson"), ("csv", "text/csv")] {
            let export = owner
                .get(
                    &app,
                    &format!("/v1/orgs/{source}/projects/export?format={format}"),
                )
                .await;
            assert_eq!(export.status, 200);
            assert!(
                export
                    .header("content-type")
                    .unwrap()
                    .starts_with(content_type)
            );
            assert!(
                export
                    .header("content-disposition")
                    .unwrap()
                    .contains(&format!("projects.{format}"))
            );
            let imported = raw(
                &app,
                &owner,
                Method::POST,
                &format!("/v1/orgs/{target}/projects/import"),
                content_type,
                export.text(),
            )
            .await;
            assert_eq!(imported.status, 201, "{format}: {}", imported.text());
            assert_eq!(imported.json()["imported"], 4);
            if format == "csv" {
                // Spreadsheets must not run a cell as a formula.
                assert!(export.text().contains("'=HYPERLINK"), "{}", export.text());
            }
        }
        let copies = owner
            .get(
                &app,
                &format!("/v1/orgs/{target}/projects?sort=name&limit=100"),
            )
            .await
            .json();
        assert_eq!(copies["items"].as_array().unwrap().len(), 8);
        assert_eq!(copies["items"][0]["name"], "=HYPERLINK(\"x\")");
        assert_eq!(copies["items"][1]["name"], "=HYPERLINK(\"x\")");
        assert_eq!(copies["items"][2]["name"], "p0, \"quoted\"");
        assert_eq!(copies["items"][2]["description"], "multi\nline");
        assert_eq!(copies["items"][2]["metadata"], json!({"i": 0}));

        let bad = "{\"name\": \"fine\"}\n{\"name\": \"\"}\nnot json\n".to_owned();
        let fields = raw(
            &app,
            &owner,
            Method::POST,
            &format!("/v1/orgs/{target}/projects/import"),
            "application/x-ndjson",
            bad,
        )
        .await
        .invalid_fields();
        assert_eq!(fields, ["rows[1].name", "rows[2]"]);
        let bad = "name,metadata\nok,{}\n,{}\nx,{broken\n".to_owned();
        let fields = raw(
            &app,
            &owner,
            Method::POST,
            &format!("/v1/orgs/{target}/projects/import"),
            "text/csv",
            bad,
        )
        .await
        .invalid_fields();
        assert_eq!(fields, ["rows[1].name", "rows[2].metadata"]);
        raw(
            &app,
            &owner,
            Method::POST,
            &format!("/v1/orgs/{target}/projects/import"),
            "text/plain",
            "x",
        )
        .await
        .problem(415, "unsupported_media_type");
        // Past the body limit (1 MiB here), as the document says.
        let huge = format!("{}\n", "{\"name\": \"x\"}\n".repeat(80_000));
        raw(
            &app,
            &owner,
            Method::POST,
            &format!("/v1/orgs/{target}/projects/import"),
            "application/x-ndjson",
            huge,
        )
        .await
        .problem(413, "payload_too_large");
        let count = owner
            .get(&app, &format!("/v1/orgs/{target}/projects?limit=100"))
            .await
            .json();
        assert_eq!(
            count["items"].as_array().unwrap().len(),
            8,
            "nothing of the bad imports landed"
        );
        owner
            .get(
                &app,
                &format!("/v1/orgs/{source}/projects/export?format=xml"),
            )
            .await
            .problem(422, "validation_failed");
    }
}
