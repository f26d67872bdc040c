//! The OpenAPI document tells the truth about the server: parameters sit where the
//! handlers read them, public operations say they need no token, the refusals of JSON
//! bodies and query strings and the server's own 503 are documented, every documented
//! `limit` maximum is enforced and exactly the operations that document a 429 spend the client address's
//! request budget (on both backends). `scripts/contract-check` fuzzes the rest against the
//! real binary.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tenantbase_core::identity::throttle::ThrottlePolicy;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

/// Every operation of the document: (method, path template, operation).
fn operations() -> Vec<(String, String, Value)> {
    let document = serde_json::to_value(tenantbase_http::openapi()).expect("document");
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation.get("responses").is_some() {
                operations.push((method.to_uppercase(), template.clone(), operation.clone()));
            }
        }
    }
    assert!(
        operations.len() > 60,
        "only {} operations",
        operations.len()
    );
    operations
}

fn parameters(operation: &Value, location: &str) -> Vec<Value> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == location)
        .cloned()
        .collect()
}

fn documents(operation: &Value, status: &str) -> bool {
    operation["responses"].get(status).is_some()
}

#[test]
fn path_parameters_are_in_the_path_and_the_rest_in_the_query() {
    for (method, template, operation) in operations() {
        for parameter in parameters(&operation, "path") {
            let name = parameter["name"].as_str().expect("name");
            assert!(
                template.contains(&format!("{{{name}}}")),
                "{method} {template}: `{name}` is declared in: path but the path has no {{{name}}}"
            );
        }
    }
    // The list operations' query parameters, which were once declared in: path.
    let (_, _, projects) = operations()
        .into_iter()
        .find(|(m, t, _)| m == "GET" && t == "/v1/orgs/{org_id}/projects")
        .expect("list projects");
    let query: Vec<_> = parameters(&projects, "query")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    for name in ["limit", "cursor", "q", "sort", "order", "created_after"] {
        assert!(query.iter().any(|q| q == name), "{name} not in: query");
    }
}

#[test]
fn public_operations_need_no_token_and_the_rest_a_bearer_one() {
    let document = serde_json::to_value(tenantbase_http::openapi()).expect("document");
    assert_eq!(document["servers"][0]["url"], "/");
    let mut public = 0;
    for (method, template, operation) in operations() {
        let expected = if operation["x-access"] == "public" {
            public += 1;
            serde_json::json!([])
        } else {
            serde_json::json!([{ "bearer": [] }])
        };
        assert_eq!(operation["security"], expected, "{method} {template}");
    }
    assert!(public >= 10, "only {public} public operations");
}

#[test]
fn json_bodies_and_query_strings_document_their_refusals() {
    let mut json_bodies = 0;
    for (method, template, operation) in operations() {
        if operation["requestBody"]["content"]
            .get("application/json")
            .is_some()
        {
            json_bodies += 1;
            for status in ["400", "408", "413", "415", "422"] {
                assert!(
                    documents(&operation, status),
                    "{method} {template} takes JSON but does not document {status}"
                );
            }
        }
        if !parameters(&operation, "query").is_empty() {
            assert!(
                documents(&operation, "422"),
                "{method} {template} takes a query but does not document 422"
            );
        }
    }
    assert!(json_bodies > 20, "only {json_bodies} JSON bodies");
}

/// The request timeout and a shutdown reach every route (`errors.rs` reaches the
/// timeout's 503 on a slow handler).
#[test]
fn every_operation_documents_the_servers_503() {
    for (method, template, operation) in operations() {
        assert!(
            documents(&operation, "503"),
            "{method} {template} does not document 503"
        );
    }
}

/// Answers of routes that read a body or serve bytes, which their API tests reach.
#[test]
fn raw_bodies_and_downloads_document_their_answers() {
    let operations = operations();
    for (method, template, statuses) in [
        (
            "GET",
            "/v1/blobs/{token}",
            &["304", "404", "416", "503"][..],
        ),
        ("PUT", "/v1/blobs/{token}", &["404"]),
        ("GET", "/v1/users/{user_id}/avatar", &["304"]),
        ("PUT", "/v1/auth/me/avatar", &["408"]),
        ("POST", "/v1/orgs/{org_id}/files", &["400"]),
        ("POST", "/v1/orgs/{org_id}/projects/import", &["408", "413"]),
    ] {
        let (_, _, operation) = operations
            .iter()
            .find(|(m, t, _)| m == method && t == template)
            .unwrap_or_else(|| panic!("{method} {template}"));
        for status in statuses {
            assert!(
                documents(operation, status),
                "{method} {template} does not document {status}"
            );
        }
    }
}

/// Every list answers a `Page_…` and takes a page's parameters: none is answered whole
/// whatever the client asked.
#[test]
fn every_list_takes_limit_and_cursor() {
    let mut lists = 0;
    for (method, template, operation) in operations() {
        let answer = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        let is_page = answer["$ref"]
            .as_str()
            .is_some_and(|r| r.starts_with("#/components/schemas/Page_"));
        if !is_page || method != "GET" {
            continue;
        }
        lists += 1;
        let query: Vec<Value> = parameters(&operation, "query")
            .into_iter()
            .map(|p| p["name"].clone())
            .collect();
        for name in ["limit", "cursor"] {
            assert!(
                query.contains(&json!(name)),
                "{method} {template} lacks `{name}`"
            );
        }
    }
    assert!(lists >= 15, "only {lists} lists");
}

#[tokio::test]
async fn every_documented_limit_maximum_is_enforced() {
    for backend in BOTH {
        // With passkeys on, so that their list answers too.
        let app = crate::passkeys::app(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Limits").await;
        let mut lists = 0;
        for (method, template, operation) in operations() {
            let Some(limit) = parameters(&operation, "query")
                .into_iter()
                .find(|p| p["name"] == "limit")
            else {
                continue;
            };
            assert_eq!(method, "GET", "{template}");
            assert_eq!(limit["schema"]["minimum"], 1, "{template}");
            let maximum = limit["schema"]["maximum"]
                .as_u64()
                .unwrap_or_else(|| panic!("{template}: `limit` has no maximum"));
            let path = template.replace("{org_id}", &org);
            assert!(!path.contains('{'), "{template}: more ids to fill in");
            lists += 1;

            let at_most = owner.get(&app, &format!("{path}?limit={maximum}")).await;
            assert_eq!(at_most.status, 200, "{path}: {}", at_most.text());
            for refused in [0, maximum + 1] {
                let problem = owner
                    .get(&app, &format!("{path}?limit={refused}"))
                    .await
                    .problem(422, "validation_failed");
                assert_eq!(problem["errors"][0]["field"], "limit", "{path}: {problem}");
            }
        }
        assert!(lists >= 15, "only {lists} list operations with a limit");
    }
}

/// A request from its own client address, as a socket would give it.
fn from_address(method: &str, path: &str, token: &str, address: u32) -> Request<Body> {
    let mut request = Request::builder()
        .method(method.parse::<Method>().expect("method"))
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let peer = SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + address), 4711));
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[tokio::test]
async fn exactly_the_operations_documenting_429_spend_the_address_budget() {
    for backend in BOTH {
        let throttle = ThrottlePolicy {
            requests_per_minute: 1,
            ..ThrottlePolicy::default()
        };
        let app = TestApp::with_throttle(backend, throttle).await;
        let caller = Caller::guest(&app).await;
        let org = caller.create_org(&app, "Budget").await;
        let (mut documented, mut throttled) = (BTreeSet::new(), BTreeSet::new());
        for (address, (method, template, operation)) in (1..).zip(operations()) {
            let name = format!("{method} {template}");
            // Other budgets (invitations per inviter and org) document a 429 of their own.
            let description = operation["responses"]["429"]["description"]
                .as_str()
                .unwrap_or_default();
            if description.contains("from this address") {
                documented.insert(name.clone());
            }
            // One request of this address's budget of one spent on a budgeted route, so the
            // next request to a budgeted route is refused before its handler runs.
            let spend = from_address("POST", "/v1/auth/guest", &caller.token, address);
            assert_eq!(app.send(spend).await.status, 201, "{name}");
            let path = template.replace("{org_id}", &org);
            let path = path.replace(['{', '}'], "");
            let response = app
                .send(from_address(&method, &path, &caller.token, address))
                .await;
            if response.status == 429 {
                response.problem(429, "rate_limited");
                throttled.insert(name);
            }
        }
        assert!(throttled.len() >= 10, "only {throttled:?}");
        assert_eq!(documented, throttled);
    }
}
