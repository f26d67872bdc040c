//! Conformance tests of the orgs a user belongs to, and of an org's projects purged in
//! bounded units.

use chrono::Utc;
use tenantbase_domain::OrgId;
use tenantbase_domain::id::{ProjectId, UserId};
use tenantbase_domain::model::{Membership, Project};
use tenantbase_store::org::projects::ProjectQuery;
use tenantbase_store::{OrgScope, Store};

use crate::files::{new_org, new_user};

/// `orgs_of_user` lists the live orgs `user` is a member of, in id order, by pages — on
/// PostgreSQL through row-level security keyed on the user, read outside a transaction.
pub async fn a_users_orgs_are_the_live_ones_they_belong_to(store: &dyn Store) {
    let (ada, bob) = (new_user(store).await, new_user(store).await);
    let mut scopes = Vec::new();
    for name in ["a", "b", "c", "gone"] {
        let scope = new_org(store, name, ada).await;
        let mut unit = store.begin_org(&scope).await.expect("unit");
        unit.add_member(ada, &[]).await.expect("member");
        if name == "gone" {
            unit.set_org_deleted(Some(Utc::now()))
                .await
                .expect("deleted");
        }
        unit.commit().await.expect("commit");
        scopes.push(scope);
    }
    let theirs = new_org(store, "bobs", bob).await;
    let mut unit = store.begin_org(&theirs).await.expect("unit");
    unit.add_member(bob, &[]).await.expect("member");
    unit.commit().await.expect("commit");

    let mut live: Vec<OrgId> = scopes[..3].iter().map(OrgScope::org_id).collect();
    live.sort();
    let ids =
        |page: Vec<Membership>| -> Vec<OrgId> { page.into_iter().map(|m| m.org.id).collect() };
    let all = store.orgs_of_user(ada, None, 10).await.expect("orgs");
    assert_eq!(ids(all), live, "the live orgs, in id order");
    let first = store.orgs_of_user(ada, None, 2).await.expect("page");
    assert_eq!(ids(first), live[..2]);
    let rest = store
        .orgs_of_user(ada, Some(live[1]), 2)
        .await
        .expect("page");
    assert_eq!(ids(rest), live[2..]);
    let bobs = store.orgs_of_user(bob, None, 10).await.expect("orgs");
    assert_eq!(ids(bobs), [theirs.org_id()]);
    let none = store
        .orgs_of_user(UserId::new(), None, 10)
        .await
        .expect("orgs");
    assert!(none.is_empty());
}

/// `purge_projects` removes at most `limit` of its own org's projects, deleted ones too,
/// and says how many: a purge's units stay bounded, and another org loses nothing.
pub async fn projects_are_purged_in_bounded_units(store: &dyn Store) {
    let owner = new_user(store).await;
    let (doomed, kept) = (
        new_org(store, "doomed", owner).await,
        new_org(store, "kept", owner).await,
    );
    for (scope, count) in [(doomed, 5), (kept, 2)] {
        let now = Utc::now();
        let projects: Vec<Project> = (0..count)
            .map(|n| Project {
                id: ProjectId::new(),
                name: format!("project {n}"),
                description: None,
                metadata: serde_json::json!({}),
                created_by: owner,
                created_at: now,
                updated_at: now,
                deleted_at: (n == 0).then_some(now),
            })
            .collect();
        let mut unit = store.begin_org(&scope).await.expect("unit");
        unit.insert_projects(&projects).await.expect("projects");
        unit.commit().await.expect("commit");
    }
    let mut removed = Vec::new();
    for _ in 0..3 {
        let mut unit = store.begin_org(&doomed).await.expect("unit");
        removed.push(unit.purge_projects(3).await.expect("purge"));
        unit.commit().await.expect("commit");
    }
    assert_eq!(removed, [3, 2, 0]);
    let everything = ProjectQuery {
        include_deleted: true,
        limit: 10,
        ..Default::default()
    };
    for (scope, left) in [(doomed, 0), (kept, 2)] {
        let mut unit = store.read_org(&scope).await.expect("read");
        assert_eq!(unit.projects(&everything).await.expect("list").len(), left);
    }
}
