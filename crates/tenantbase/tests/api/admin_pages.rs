//! Paging the short lists held whole in memory — an org's roles, teams, invitations and
//! API keys, a user's sessions, the permission catalog — on both backends: every item
//! once and in order, even when the last one seen goes away between pages.

use axum::http::Method;
use serde_json::{Value, json};

use crate::auth::login;
use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, verified};

/// The ids of `list`'s items, a page of one at a time; `between` runs after each page
/// with the id just seen.
async fn ids_by_pages(
    app: &TestApp,
    caller: &Caller,
    list: &str,
    between: impl AsyncFnMut(&str),
) -> Vec<String> {
    keys_by_pages(app, caller, list, "id", between).await
}

/// The `key` field of `list`'s items, a page of one at a time; `between` runs after each
/// page with the key just seen.
async fn keys_by_pages(
    app: &TestApp,
    caller: &Caller,
    list: &str,
    key: &str,
    mut between: impl AsyncFnMut(&str),
) -> Vec<String> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..100 {
        let page_path = match &cursor {
            None => format!("{list}?limit=1"),
            Some(cursor) => format!("{list}?limit=1&cursor={cursor}"),
        };
        let page = caller.get(app, &page_path).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        let id = page["items"][0][key].as_str().expect("an item").to_owned();
        between(&id).await;
        ids.push(id);
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => return ids,
        }
    }
    panic!("{list} did not end");
}

/// The ids of `list`'s items in one page.
async fn ids_at_once(app: &TestApp, caller: &Caller, list: &str) -> Vec<String> {
    keys_at_once(app, caller, list, "id").await
}

/// The `key` field of `list`'s items in one page.
async fn keys_at_once(app: &TestApp, caller: &Caller, list: &str, key: &str) -> Vec<String> {
    let page = caller.get(app, list).await.json();
    assert_eq!(page["next_cursor"], Value::Null, "{page}");
    let items = page["items"].as_array().expect("items");
    items
        .iter()
        .map(|item| item[key].as_str().expect("key").to_owned())
        .collect()
}

#[tokio::test]
async fn pages_follow_on_when_the_last_item_seen_goes_away() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Pages").await;
        let base = format!("/v1/orgs/{org}");
        for name in ["b", "a", "c"] {
            owner
                .post(&app, &format!("{base}/teams"), json!({"name": name}))
                .await;
        }
        for n in 0..3 {
            let invitation = json!({"email": format!("invitee{n}@example.com")});
            owner
                .post(&app, &format!("{base}/invitations"), invitation)
                .await;
        }
        owner
            .post(
                &app,
                &format!("{base}/roles"),
                json!({"name": "r", "permissions": []}),
            )
            .await;
        owner
            .post(
                &app,
                &format!("{base}/api-keys"),
                json!({"name": "k", "permissions": ["org:read"]}),
            )
            .await;
        for list in ["roles", "teams", "invitations", "api-keys"] {
            let list = format!("{base}/{list}");
            let whole = ids_at_once(&app, &owner, &list).await;
            let paged = ids_by_pages(&app, &owner, &list, async |_: &str| {}).await;
            assert_eq!(paged, whole, "{backend:?} {list}");
            // Each item seen is gone before the next page is asked for.
            let remove = async |id: &str| {
                let gone = owner
                    .call(&app, Method::DELETE, &format!("{list}/{id}"), None)
                    .await;
                assert_eq!(gone.status, 204, "{}", gone.text());
            };
            if list.ends_with("teams") || list.ends_with("invitations") {
                let removed = ids_by_pages(&app, &owner, &list, remove).await;
                assert_eq!(removed, whole, "{backend:?} {list}");
            }
        }
    }
}

#[tokio::test]
async fn a_users_sessions_and_the_permission_catalog_page_too() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let user = verified(&app, "pages@example.com").await;
        for _ in 0..2 {
            login(&app, "pages@example.com", &[]).await;
        }
        let sessions = ids_at_once(&app, &user, "/v1/auth/sessions").await;
        assert_eq!(sessions.len(), 3, "{backend:?}");
        let paged = ids_by_pages(&app, &user, "/v1/auth/sessions", async |_: &str| {}).await;
        assert_eq!(paged, sessions, "{backend:?}: newest first, page by page");
        // A cursor of another list, even one whose key reads alike, is refused.
        let first = user.get(&app, "/v1/auth/sessions?limit=1").await.json();
        let cursor = first["next_cursor"].as_str().expect("a cursor");
        for list in [
            "/v1/auth/trusted-devices",
            "/v1/auth/identities",
            "/v1/permissions",
        ] {
            let foreign = user.get(&app, &format!("{list}?cursor={cursor}")).await;
            let problem = foreign.problem(422, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], "cursor", "{list}");
        }
        // The session seen last is revoked before the next page: the rest still follow.
        let revoke = async |id: &str| {
            if id != sessions[0] {
                let path = format!("/v1/auth/sessions/{id}");
                let gone = user.call(&app, Method::DELETE, &path, None).await;
                assert_eq!(gone.status, 204, "{}", gone.text());
            }
        };
        let revoked = ids_by_pages(&app, &user, "/v1/auth/sessions", revoke).await;
        assert_eq!(revoked, sessions, "{backend:?}");

        let catalog = keys_at_once(&app, &user, "/v1/permissions", "name").await;
        assert!(catalog.len() > 10, "{catalog:?}");
        let paged = keys_by_pages(&app, &user, "/v1/permissions", "name", async |_: &str| {}).await;
        assert_eq!(paged, catalog);
    }
}
