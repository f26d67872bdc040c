//! Deny by default, proven over the whole router: every operation of the OpenAPI document
//! (which every route is registered through) declares `x-access`, and every org route is
//! driven as a caller without a token (401), a member lacking the permission (403), a
//! non-member (404), a token bound to another org (404) and, for routes naming a resource,
//! an owner of org A passing org B's ids in A's path (404, while the org's own ids are
//! found) — on both backends. Every refusal is checked for its problem `code`, so a route
//! that vanished (`route_not_found`) cannot pass for one that refused.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tenantbase_domain::Permission;

use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::tenants::{Caller, add_member, verified};

/// One operation of the document.
pub(crate) struct Route {
    pub method: Method,
    pub template: String,
    pub access: String,
    /// The documented response statuses.
    pub statuses: Vec<String>,
}

impl Route {
    /// Under `/v1/orgs/{org_id}`: authorized in the path's org.
    pub fn in_org(&self) -> bool {
        self.template.starts_with("/v1/orgs/{org_id}")
    }
}

/// Every operation of the OpenAPI document.
pub(crate) fn routes() -> Vec<Route> {
    let document = serde_json::to_value(tenantbase_http::openapi()).expect("document");
    let mut routes = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !operation.is_object() || operation.get("responses").is_none() {
                continue;
            }
            let access = operation["x-access"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template} declares no access (x-access)"))
                .to_owned();
            let statuses = operation["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            routes.push(Route {
                method,
                template: template.clone(),
                access,
                statuses,
            });
        }
    }
    routes
}

#[test]
fn every_operation_declares_a_known_access_rule() {
    let routes = routes();
    assert!(routes.len() > 60, "only {} operations", routes.len());
    for route in &routes {
        let known = matches!(
            route.access.as_str(),
            "public" | "signed_in" | "introspect" | "member" | "leaving"
        ) || Permission::parse(&route.access).is_some();
        assert!(
            known,
            "{} {}: unknown access {}",
            route.method, route.template, route.access
        );
        // Only leaving waives an org's second factor.
        if route.access == "leaving" {
            assert_eq!(
                (route.method.as_str(), route.template.as_str()),
                ("POST", "/v1/orgs/{org_id}/members/leave")
            );
        }
        // The refusals the rule implies are part of the published contract.
        let refusals: &[&str] = match route.access.as_str() {
            "public" => &[],
            "signed_in" => &["401", "403"],
            "introspect" => &["401"],
            "member" | "leaving" => &["401", "404"],
            _ => &["401", "403", "404"],
        };
        for status in refusals {
            assert!(
                route.statuses.iter().any(|s| s == status),
                "{} {} does not document {status}",
                route.method,
                route.template
            );
        }
        if route.in_org() {
            assert!(
                matches!(route.access.as_str(), "member" | "leaving")
                    || Permission::parse(&route.access).is_some(),
                "{} {} is an org route but declares {}",
                route.method,
                route.template,
                route.access
            );
        }
    }
}

/// Ids of one org's resources, by path parameter name.
async fn resources(
    app: &TestApp,
    owner: &Caller,
    org: &str,
    member_email: &str,
) -> HashMap<&'static str, String> {
    let id = |response: TestResponse| response.json()["id"].as_str().expect("id").to_owned();
    let member = add_member(app, owner, org, member_email, &["viewer"]).await;
    let mut ids = HashMap::from([
        ("org_id", org.to_owned()),
        ("user_id", member.user_id.clone()),
    ]);
    ids.insert("project_id", owner.create_project(app, org, "p").await);
    ids.insert(
        "role_id",
        id(owner
            .post(
                app,
                &format!("/v1/orgs/{org}/roles"),
                json!({"name": "r", "permissions": []}),
            )
            .await),
    );
    ids.insert(
        "team_id",
        id(owner
            .post(app, &format!("/v1/orgs/{org}/teams"), json!({"name": "t"}))
            .await),
    );
    // The member is in the team, so routes naming both find them.
    let joined = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/teams/{}/members", ids["team_id"]),
            json!({"user_id": member.user_id}),
        )
        .await;
    assert!(joined.status.is_success(), "{}", joined.text());
    ids.insert(
        "invitation_id",
        id(owner
            .post(
                app,
                &format!("/v1/orgs/{org}/invitations"),
                json!({"email": "pending@example.com"}),
            )
            .await),
    );
    ids.insert(
        "key_id",
        id(owner
            .post(
                app,
                &format!("/v1/orgs/{org}/api-keys"),
                json!({"name": "k", "permissions": ["org:read"]}),
            )
            .await),
    );
    let file = crate::files::upload(app, owner, org, "f.txt", "text/plain", b"f".to_vec()).await;
    ids.insert("file_id", id(file));
    let upload = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/files/presign"),
            json!({"name": "u.bin", "content_type": "application/octet-stream", "size": 1}),
        )
        .await;
    ids.insert(
        "upload_id",
        upload.json()["upload_id"]
            .as_str()
            .expect("upload id")
            .to_owned(),
    );
    ids
}

pub(crate) fn fill(template: &str, ids: &HashMap<&'static str, String>) -> String {
    let mut path = template.to_owned();
    for (name, value) in ids {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(!path.contains('{'), "no id for a parameter of {template}");
    path
}

/// A body that passes validation, so that only the resource lookup can refuse.
pub(crate) fn body_for(
    method: &Method,
    template: &str,
    ids: &HashMap<&'static str, String>,
) -> Option<Value> {
    let tail = template.rsplit('/').next().unwrap_or_default();
    let body = match (method.as_str(), tail) {
        ("PATCH", "{user_id}") => json!({"roles": ["viewer"]}),
        ("PATCH", "{role_id}") => json!({"name": "renamed"}),
        ("PATCH", "{team_id}") => json!({"name": "renamed"}),
        ("PATCH", "{project_id}") => json!({"name": "renamed"}),
        ("POST", "members") if template.contains("{team_id}") => json!({"user_id": ids["user_id"]}),
        ("POST" | "PATCH", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

pub(crate) async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    let mut request = Request::builder().method(method.clone()).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    app.send(request.body(body).expect("request")).await
}

#[tokio::test]
async fn every_org_route_refuses_strangers_the_unauthorized_and_other_orgs_ids() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org_a = owner.create_org(&app, "A").await;
        let org_b = owner.create_org(&app, "B").await;
        let a = resources(&app, &owner, &org_a, "member-a@example.com").await;
        let b = resources(&app, &owner, &org_b, "member-b@example.com").await;
        // A member of A whose only role grants nothing.
        owner
            .post(
                &app,
                &format!("/v1/orgs/{org_a}/roles"),
                json!({"name": "nothing", "permissions": []}),
            )
            .await;
        let powerless =
            add_member(&app, &owner, &org_a, "powerless@example.com", &["nothing"]).await;
        let stranger = Caller::guest(&app).await;
        let bound_to_a = owner
            .post(&app, "/v1/auth/token", json!({"org_id": org_a}))
            .await
            .json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();

        let (mut driven, mut crossed_checks) = (0, 0);
        for route in routes() {
            let (method, template) = (&route.method, route.template.as_str());
            if matches!(route.access.as_str(), "signed_in" | "introspect") {
                let mut ids = a.clone();
                ids.insert("id", format!("ses_{}", "0".repeat(32)));
                ids.insert("identity_id", format!("idn_{}", "0".repeat(32)));
                ids.insert("passkey_id", format!("pk_{}", "0".repeat(32)));
                let path = fill(template, &ids);
                call(&app, method, &path, None, body_for(method, template, &a))
                    .await
                    .problem(401, "missing_token");
                continue;
            }
            if !route.in_org() {
                continue;
            }
            driven += 1;
            let in_a = fill(template, &a);
            let in_b = fill(template, &b);
            let body_a = body_for(method, template, &a);
            let label = format!("{method} {template}");

            call(&app, method, &in_a, None, body_a.clone())
                .await
                .problem(401, "missing_token");
            if !matches!(route.access.as_str(), "member" | "leaving") {
                let refused =
                    call(&app, method, &in_a, Some(&powerless.token), body_a.clone()).await;
                assert_eq!(
                    refused.status,
                    403,
                    "{label} without the permission: {}",
                    refused.text()
                );
                assert_eq!(refused.json()["code"], "permission_denied", "{label}");
            }
            // `not_found`, not `route_not_found`: the route exists and refused to look.
            call(&app, method, &in_a, Some(&stranger.token), body_a.clone())
                .await
                .problem(404, "not_found");
            call(
                &app,
                method,
                &in_b,
                Some(&bound_to_a),
                body_for(method, template, &b),
            )
            .await
            .problem(404, "not_found");

            // Org B's resource ids in org A's path: the owner of both still gets 404.
            let resource = template.rsplit('{').next().unwrap_or_default();
            if template.matches('{').count() > 1 && !resource.starts_with("org_id") {
                let mixed = fill(
                    template,
                    &HashMap::from([("org_id", org_a.clone())])
                        .into_iter()
                        .chain(
                            b.iter()
                                .filter(|(k, _)| **k != "org_id")
                                .map(|(k, v)| (*k, v.clone())),
                        )
                        .collect(),
                );
                call(
                    &app,
                    method,
                    &mixed,
                    Some(&owner.token),
                    body_for(method, template, &a),
                )
                .await
                .problem(404, "not_found");
                // The positive control: with its own org's ids the same call finds the
                // resource. A change of state happens in an org of its own.
                let own = if method.is_safe() {
                    a.clone()
                } else {
                    let org = owner.create_org(&app, "Control").await;
                    let member = format!("control-{crossed_checks}@example.com");
                    resources(&app, &owner, &org, &member).await
                };
                let found = call(
                    &app,
                    method,
                    &fill(template, &own),
                    Some(&owner.token),
                    body_for(method, template, &own),
                )
                .await;
                assert_ne!(
                    found.status,
                    404,
                    "{label} with the org's own ids: {}",
                    found.text()
                );
                crossed_checks += 1;
            }
        }
        assert!(driven >= 35, "only {driven} org routes driven");
        assert!(
            crossed_checks >= 14,
            "only {crossed_checks} routes taking a resource id"
        );
    }
}
