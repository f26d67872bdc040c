//! Paging the org's short lists — roles, teams, invitations, API keys — on both backends:
//! every item once and in order, even when the last one seen goes away between pages.

use axum::http::Method;
use serde_json::{Value, json};

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, verified};

/// The ids of `list`'s items, a page of one at a time; `between` runs after each page
/// with the id just seen.
async fn ids_by_pages(
    app: &TestApp,
    caller: &Caller,
    list: &str,
    mut between: impl AsyncFnMut(&str),
) -> Vec<String> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..20 {
        let page_path = match &cursor {
            None => format!("{list}?limit=1"),
            Some(cursor) => format!("{list}?limit=1&cursor={cursor}"),
        };
        let page = caller.get(app, &page_path).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        let id = page["items"][0]["id"].as_str().expect("an item").to_owned();
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
    let page = caller.get(app, list).await.json();
    let items = page["items"].as_array().expect("items");
    items
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
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
