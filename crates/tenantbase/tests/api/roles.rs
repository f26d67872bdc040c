//! Custom roles through the API, on both backends: what a role may grant, who may edit
//! it, how references name it, and how many an org holds.

use axum::http::Method;
use serde_json::json;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, add_member, verified};

#[tokio::test]
async fn custom_roles_grant_only_catalog_permissions_the_creator_holds() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Roles").await;
        let roles = format!("/v1/orgs/{org}/roles");
        let unknown = owner
            .post(
                &app,
                &roles,
                json!({"name": "x", "permissions": ["projects:fly"]}),
            )
            .await;
        assert_eq!(
            unknown.problem(422, "validation_failed")["errors"][0]["field"],
            "permissions[0]"
        );
        // A list no org could need is refused whole, not answered entry by entry.
        let flood = vec!["projects:fly"; 201];
        let refused = owner
            .post(&app, &roles, json!({"name": "x", "permissions": flood}))
            .await;
        assert_eq!(
            refused.problem(422, "validation_failed")["errors"],
            json!([{"field": "permissions", "message": "at most 200 entries"}])
        );
        let members = format!("/v1/orgs/{org}/members/{}", owner.user_id);
        let refused = owner
            .call(
                &app,
                Method::PATCH,
                &members,
                Some(json!({"roles": vec!["x"; 201]})),
            )
            .await;
        assert_eq!(
            refused.problem(422, "validation_failed")["errors"][0]["field"],
            "roles"
        );
        let created = owner
            .post(&app, &roles, json!({"name": "auditor", "description": "Reads the log", "permissions": ["audit:read"]}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let role_id = created.json()["id"].as_str().unwrap().to_owned();
        owner
            .post(&app, &roles, json!({"name": "auditor", "permissions": []}))
            .await
            .problem(409, "role_name_taken");
        let fetched = owner.get(&app, &format!("{roles}/{role_id}")).await;
        assert_eq!(fetched.status, 200, "{}", fetched.text());
        assert_eq!(fetched.json()["permissions"], json!(["audit:read"]));

        let builtin = owner.get(&app, &roles).await.json()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        owner
            .call(
                &app,
                Method::PATCH,
                &format!("{roles}/{builtin}"),
                Some(json!({"permissions": []})),
            )
            .await
            .problem(409, "builtin_role");

        let member = add_member(&app, &owner, &org, "auditor@example.com", &["auditor"]).await;
        let audit = member.get(&app, &format!("/v1/orgs/{org}/audit")).await;
        assert_eq!(audit.status, 200, "{}", audit.text());
        member
            .get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .problem(403, "permission_denied");
        owner
            .call(&app, Method::DELETE, &format!("{roles}/{role_id}"), None)
            .await
            .problem(409, "role_in_use");

        // An admin cannot mint a role with more than they hold.
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        admin
            .post(
                &app,
                &roles,
                json!({"name": "deleter", "permissions": ["org:delete"]}),
            )
            .await
            .problem(403, "exceeds_own_permissions");

        let patched = owner
            .call(
                &app,
                Method::PATCH,
                &format!("{roles}/{role_id}"),
                Some(json!({"permissions": ["audit:read", "projects:read"]})),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text());
        assert_eq!(
            member
                .get(&app, &format!("/v1/orgs/{org}/projects"))
                .await
                .status,
            200
        );
        let demote = format!("/v1/orgs/{org}/members/{}", member.user_id);
        assert_eq!(
            owner
                .call(
                    &app,
                    Method::PATCH,
                    &demote,
                    Some(json!({"roles": ["viewer"]}))
                )
                .await
                .status,
            200
        );
        assert_eq!(
            owner
                .call(&app, Method::DELETE, &format!("{roles}/{role_id}"), None)
                .await
                .status,
            204
        );
    }
}

/// Role references take `rol_…` as an id, never as a name: a role cannot be named (or
/// renamed) like another role's id and stand in for it when that id is granted.
#[tokio::test]
async fn a_role_cannot_take_another_roles_id_as_its_name() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Names").await;
        let roles = format!("/v1/orgs/{org}/roles");
        let create =
            |name: &str, permissions: &[&str]| json!({"name": name, "permissions": permissions});
        let wide = owner
            .post(
                &app,
                &roles,
                create("wide", &["audit:read", "projects:read"]),
            )
            .await;
        assert_eq!(wide.status, 201, "{}", wide.text());
        let narrow = owner
            .post(&app, &roles, create("narrow", &["audit:read"]))
            .await;
        assert_eq!(narrow.status, 201, "{}", narrow.text());
        let narrow_id = narrow.json()["id"].as_str().expect("id").to_owned();
        let wide_id = wide.json()["id"].as_str().expect("id").to_owned();

        let renamed = owner
            .call(
                &app,
                Method::PATCH,
                &format!("{roles}/{wide_id}"),
                Some(json!({"name": narrow_id})),
            )
            .await;
        assert_eq!(
            renamed.problem(422, "validation_failed")["errors"][0]["field"],
            "name",
            "{backend:?}"
        );
        owner
            .post(&app, &roles, create(&narrow_id, &[]))
            .await
            .problem(422, "validation_failed");

        let member = add_member(&app, &owner, &org, "m@example.com", &[&narrow_id]).await;
        member
            .get(&app, &format!("/v1/orgs/{org}/projects"))
            .await
            .problem(403, "permission_denied");
    }
}

#[tokio::test]
async fn editing_a_role_needs_reach_over_what_it_grants_now() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Reach").await;
        let roles = format!("/v1/orgs/{org}/roles");
        let co_owner = owner
            .post(
                &app,
                &roles,
                json!({"name": "co-owner", "permissions": ["owners:manage", "org:delete"]}),
            )
            .await
            .json();
        let admin = add_member(&app, &owner, &org, "admin@example.com", &["admin"]).await;
        let id = co_owner["id"].as_str().unwrap();
        admin
            .call(
                &app,
                Method::PATCH,
                &format!("{roles}/{id}"),
                Some(json!({"permissions": ["projects:read"]})),
            )
            .await
            .problem(403, "exceeds_own_permissions");
    }
}

#[tokio::test]
async fn an_org_holds_at_most_a_hundred_custom_roles() {
    let app = TestApp::new(crate::helpers::Backend::Sqlite).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Capped").await;
    let roles = format!("/v1/orgs/{org}/roles");
    for i in 0..tenantbase_core::tenancy::limits::CUSTOM_ROLES {
        let created = owner
            .post(
                &app,
                &roles,
                json!({"name": format!("r{i}"), "permissions": []}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
    }
    owner
        .post(&app, &roles, json!({"name": "one more", "permissions": []}))
        .await
        .problem(409, "limit_reached");
}

/// A custom role listed beside the built-in ones must not pass for one of them.
#[tokio::test]
async fn a_custom_role_cannot_take_a_built_in_name_in_any_case() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Lookalikes").await;
        let roles = format!("/v1/orgs/{org}/roles");
        for name in ["Owner", "ADMIN", " gUeSt ", "ｏｗｎｅｒ", "Ａｄｍｉｎ"] {
            let refused = owner
                .post(&app, &roles, json!({"name": name, "permissions": []}))
                .await;
            assert_eq!(
                refused.problem(422, "validation_failed")["errors"][0]["field"],
                "name",
                "{name} on {backend:?}"
            );
        }
        let custom = owner
            .post(
                &app,
                &roles,
                json!({"name": "Owners' deputy", "permissions": []}),
            )
            .await;
        assert_eq!(custom.status, 201, "{}", custom.text());
        let id = custom.json()["id"].as_str().expect("id").to_owned();
        let renamed = owner
            .call(
                &app,
                Method::PATCH,
                &format!("{roles}/{id}"),
                Some(json!({"name": "Member"})),
            )
            .await;
        assert_eq!(
            renamed.problem(422, "validation_failed")["errors"][0]["field"],
            "name"
        );
    }
}

/// Two roles that read the same cannot share an org: names are compared in NFKC and
/// lowercase, kept in NFC as typed.
#[tokio::test]
async fn role_names_are_unique_in_any_case_and_composition() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Same names").await;
        let roles = format!("/v1/orgs/{org}/roles");
        let create = |name: &str| json!({"name": name, "permissions": []});
        let auditor = owner.post(&app, &roles, create("Auditor")).await;
        assert_eq!(auditor.status, 201, "{}", auditor.text());
        // `é` as `e` and a combining accent is kept as the one code point.
        let cafe = owner.post(&app, &roles, create("Cafe\u{301} staff")).await;
        assert_eq!(cafe.status, 201, "{}", cafe.text());
        assert_eq!(cafe.json()["name"], "Caf\u{e9} staff");
        for name in [
            "auditor",
            " AUDITOR ",
            "caf\u{e9} staff",
            "CAFE\u{301} STAFF",
            "ａｕｄｉｔｏｒ",
        ] {
            owner
                .post(&app, &roles, create(name))
                .await
                .problem(409, "role_name_taken");
        }
        let other = owner.post(&app, &roles, create("Cafe staff")).await;
        assert_eq!(other.status, 201, "{} on {backend:?}", other.text());
        // Granted by name, the role is found however the name is composed.
        let invitation = json!({"email": "new@example.com", "roles": ["Cafe\u{301} staff"]});
        let invited = owner
            .post(&app, &format!("/v1/orgs/{org}/invitations"), invitation)
            .await;
        assert_eq!(invited.status, 201, "{} on {backend:?}", invited.text());

        let rename = |id: &serde_json::Value, name: &str| {
            let path = format!("{roles}/{}", id.as_str().expect("id"));
            let body = json!({"name": name});
            let owner = &owner;
            let app = &app;
            async move { owner.call(app, Method::PATCH, &path, Some(body)).await }
        };
        let other_id = &other.json()["id"];
        for name in ["auditor", "caf\u{e9} STAFF", "Cafe\u{301} staff"] {
            rename(other_id, name).await.problem(409, "role_name_taken");
        }
        // A role's own name in another case is no clash.
        let recased = rename(&auditor.json()["id"], "AUDITOR").await;
        assert_eq!(recased.status, 200, "{}", recased.text());
        let renamed = rename(other_id, "Cafe\u{301} owners").await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        assert_eq!(renamed.json()["name"], "Caf\u{e9} owners");
    }
}

/// A description reads as it shows: lines and tabs, but no other control characters and
/// no invisible formatting (an RLO would reorder what follows it).
#[tokio::test]
async fn a_role_description_holds_no_hidden_characters() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Descriptions").await;
        let roles = format!("/v1/orgs/{org}/roles");
        let fields = |problem: serde_json::Value| -> Vec<String> {
            problem["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .map(|e| e["field"].as_str().expect("field").to_owned())
                .collect()
        };
        for description in ["rings\u{7}the bell", "reads \u{202E}gol eht"] {
            let refused = owner
                .post(
                    &app,
                    &roles,
                    json!({"name": "r", "description": description, "permissions": ["projects:fly"]}),
                )
                .await;
            assert_eq!(
                fields(refused.problem(422, "validation_failed")),
                ["description", "permissions[0]"],
                "{description:?} on {backend:?}"
            );
        }
        let laid_out = "Reads the log.\n\tEvery entry.\r\nAs typed on Windows.";
        let created = owner
            .post(
                &app,
                &roles,
                json!({"name": "r", "description": laid_out, "permissions": []}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["description"], laid_out);
        let path = format!("{roles}/{}", created.json()["id"].as_str().expect("id"));
        let patched = owner
            .call(
                &app,
                Method::PATCH,
                &path,
                Some(json!({"description": "\u{202E}"})),
            )
            .await;
        assert_eq!(
            fields(patched.problem(422, "validation_failed")),
            ["description"]
        );
    }
}
