//! The database wall between tenants, tested below the application: connected as the
//! runtime role, a transaction set to org A sees none of org B's rows in any org-owned
//! table — even with no `WHERE` at all — and one that sets no org sees nothing.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection, Row};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::{FileId, ProjectId, UserId};
use tenantbase_domain::model::{
    Actor, ApiKey, FileUpload, Invitation, Project, RequestMeta, Role, StoredFile,
};
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::org::events::EventQuery;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{EventStore, OpsStore, OrgScope, TenantStore, TxStore};
use tenantbase_store_postgres::{PgPoolConfig, PgStore, RUNTIME_ROLE};
use tenantbase_store_tests::{record, seal};

mod events;

/// Tables that hold something of orgs yet stay outside the wall, and why. None has an
/// `org_id` column, so `org_tables` does not find them; the rule test checks that this
/// stays true — a table here that gains one holds org rows and needs the wall.
const OUTSIDE_THE_WALL: [(&str, &str); 2] = [
    (
        "audit_chains",
        "one head per chain, keyed by its name: a sequence number and a hash, no org data; \
         the events themselves are walled",
    ),
    (
        "jobs",
        "the queue every worker claims from, for any org; an org's id sits only in a job's \
         payload, and handlers open org units to act",
    ),
];

/// Every table holding org-owned rows, from the catalog: each table of the schema with an
/// `org_id` column, and `organizations` itself (its `id` is the org). A new org table is
/// on the list, and held to the wall, from the migration that creates it.
async fn org_tables(conn: &mut PgConnection) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
           AND (c.relname = 'organizations' OR EXISTS ( \
                SELECT 1 FROM pg_attribute a \
                WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)) \
         ORDER BY c.relname",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("org tables");
    // A query that finds nothing would make every test below pass vacuously.
    for known in ["organizations", "projects", "events"] {
        assert!(
            tables.iter().any(|t| t == known),
            "the catalog query finds {known}: {tables:?}"
        );
    }
    tables
}

/// An org with one row in every org-owned table, written through the store.
async fn populate(store: &PgStore, owner: UserId) -> OrgId {
    let org = OrgId::new();
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    let mut unit = store
        .begin_org(&OrgScope::for_checked_org(org))
        .await
        .expect("unit");
    unit.create_org("org", &format!("org-{}", org.as_uuid().simple()), owner)
        .await
        .expect("org");
    let role = Role {
        id: tenantbase_domain::id::RoleId::new(),
        name: "r".into(),
        description: String::new(),
        permissions: vec!["projects:read".into()],
        builtin: false,
        created_at: now,
        updated_at: now,
    };
    unit.insert_role(&role).await.expect("role");
    unit.add_member(owner, &[role.id]).await.expect("member");
    let team = tenantbase_domain::id::TeamId::new();
    unit.insert_team(team, "t").await.expect("team");
    unit.set_team_roles(team, &[role.id])
        .await
        .expect("team role");
    unit.add_team_member(team, owner)
        .await
        .expect("team member");
    let invitation = Invitation {
        id: tenantbase_domain::id::InvitationId::new(),
        email: "x@example.com".into(),
        role_ids: vec![role.id],
        any_email: false,
        invited_by: owner,
        created_at: now,
        expires_at: now + chrono::Duration::days(1),
        accepted_at: None,
        revoked_at: None,
    };
    unit.insert_invitation(&invitation, &format!("hash-{org}"))
        .await
        .expect("invitation");
    let key = ApiKey {
        id: tenantbase_domain::id::ApiKeyId::new(),
        name: "k".into(),
        prefix: "tb_x".into(),
        permissions: vec![],
        created_by: owner,
        created_at: now,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    unit.insert_api_key(&key, &format!("secret-{org}"))
        .await
        .expect("key");
    let project = Project {
        id: ProjectId::new(),
        name: "p".into(),
        description: None,
        metadata: serde_json::json!({}),
        created_by: owner,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    unit.insert_projects(&[project]).await.expect("project");
    let file = StoredFile {
        id: FileId::new(),
        name: "f".into(),
        size: 1,
        content_type: "text/plain".into(),
        sha256: "0".repeat(64),
        created_by: owner,
        created_at: now,
        upload_claim: None,
    };
    unit.insert_file(&file).await.expect("file");
    let upload = FileUpload {
        id: FileId::new(),
        name: "u".into(),
        size: 1,
        content_type: "text/plain".into(),
        sha256: None,
        created_by: owner,
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
    };
    unit.insert_upload(&upload).await.expect("upload");
    unit.append_event(event(Some(org))).await.expect("event");
    unit.commit().await.expect("commit");
    org
}

/// An audit event in `org`'s chain, or the platform chain.
fn event(org: Option<OrgId>) -> NewEvent {
    NewEvent {
        org_id: org,
        event_type: "test.event".into(),
        actor: Actor::System,
        target: None,
        request: RequestMeta::default(),
        payload: serde_json::json!({}),
    }
}

async fn setup() -> (tenantbase_testkit::TestDatabase, PgStore, OrgId, OrgId) {
    let db = tenantbase_testkit::fresh_database().await;
    let store = PgStore::connect(
        &db.url,
        PgPoolConfig {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
        },
    )
    .expect("pool");
    store.migrate().await.expect("migrate");
    let owner = UserId::new();
    let mut unit = store.begin().await.expect("unit");
    unit.create_user(NewUser {
        id: owner,
        email: None,
        display_name: "o".into(),
        password_hash: None,
        is_guest: true,
    })
    .await
    .expect("user");
    // The platform chain, appended as the auth flows do: through a platform unit.
    unit.append_event(event(None))
        .await
        .expect("platform event");
    unit.commit().await.expect("commit");
    let a = populate(&store, owner).await;
    let b = populate(&store, owner).await;
    // The sealer links the recorded events into their chains (in the platform scope, as
    // the runtime role); one more event per org stays recorded, unsealed, so the wall is
    // tried on `pending_events` as well.
    for chain in [a.to_string(), b.to_string(), "platform".to_owned()] {
        assert_eq!(seal(&store, &chain, 10).await.len(), 1, "{chain}");
    }
    for org in [a, b] {
        record(&store, event(Some(org))).await;
    }
    (db, store, a, b)
}

/// A connection acting as the server does.
async fn runtime_connection(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    conn.execute(format!("SET ROLE {RUNTIME_ROLE}").as_str())
        .await
        .expect("set role");
    conn
}

/// The org ids of every row `conn` can see in `table`, with no WHERE of its own (`None`
/// for a platform event).
async fn visible_orgs(conn: &mut PgConnection, table: &str) -> Vec<Option<uuid::Uuid>> {
    let column = if table == "organizations" {
        "id"
    } else {
        "org_id"
    };
    let rows = sqlx::query(&format!("SELECT * FROM {table}"))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("SELECT * FROM {table}: {e}"));
    rows.iter()
        .map(|row| row.get::<Option<uuid::Uuid>, _>(column))
        .collect()
}

#[tokio::test]
async fn the_runtime_role_sees_only_the_org_its_transaction_names() {
    let (db, store, a, b) = setup().await;
    let mut conn = runtime_connection(&db.url).await;
    let role: (bool, bool) =
        sqlx::query_as("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .expect("role");
    assert_eq!(
        role,
        (false, false),
        "the runtime role neither bypasses RLS nor is superuser"
    );
    let owns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user",
    )
    .fetch_one(&mut conn)
    .await
    .expect("ownership");
    assert_eq!(owns, 0, "the runtime role owns no table");

    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set org");
    for table in org_tables(&mut tx).await {
        let orgs = visible_orgs(&mut tx, &table).await;
        assert!(!orgs.is_empty(), "{table}: org A's own rows are visible");
        assert!(
            orgs.iter().all(|org| *org == Some(a.as_uuid())),
            "{table}: saw {orgs:?}, B is {b}"
        );
    }
    // Writing another org's rows is refused by the policy's WITH CHECK.
    let forged = sqlx::query("UPDATE projects SET org_id = $1")
        .bind(b.as_uuid())
        .execute(&mut *tx)
        .await;
    assert!(forged.is_err(), "moving a row into org B must fail");
    drop(tx);
    store.close().await;
}

/// The wall's rule, read from the catalog: every org table enables and forces row-level
/// security and has a policy — so a migration adding one without them fails here.
#[tokio::test]
async fn every_org_table_is_walled() {
    let db = tenantbase_testkit::fresh_database().await;
    let store = PgStore::connect(
        &db.url,
        PgPoolConfig {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(10),
        },
    )
    .expect("pool");
    store.migrate().await.expect("migrate");
    store.close().await;
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    for table in org_tables(&mut conn).await {
        let (enabled, forced, policies): (bool, bool, i64) = sqlx::query_as(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, \
                    (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1",
        )
        .bind(&table)
        .fetch_one(&mut conn)
        .await
        .expect("row security of a table");
        assert!(enabled, "{table}: ENABLE ROW LEVEL SECURITY is missing");
        assert!(forced, "{table}: FORCE ROW LEVEL SECURITY is missing");
        assert!(policies > 0, "{table}: no policy, so no row is reachable");
    }
    for (table, why) in OUTSIDE_THE_WALL {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .expect("columns");
        assert!(
            !columns.is_empty(),
            "{table} is gone: drop it from the list"
        );
        assert!(
            !columns.iter().any(|c| c == "org_id"),
            "{table} has an org_id column now; it was outside the wall because: {why}"
        );
    }
}

#[tokio::test]
async fn a_path_that_forgets_to_set_the_org_sees_nothing() {
    let (db, store, a, _) = setup().await;
    let mut conn = runtime_connection(&db.url).await;
    let tables = org_tables(&mut conn).await;
    for table in &tables {
        assert!(
            visible_orgs(&mut conn, table).await.is_empty(),
            "{table} without an org"
        );
    }
    // Not even after a scoped transaction has used the same connection.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set org");
    tx.commit().await.expect("commit");
    for table in &tables {
        assert!(
            visible_orgs(&mut conn, table).await.is_empty(),
            "{table} after a scoped transaction"
        );
    }
    // And through the store's own pool, reads outside a scoped unit see no org data.
    let orgs = store
        .orgs_of_user(UserId::new(), None, 10)
        .await
        .expect("orgs");
    assert!(orgs.is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_grant_cannot_name_another_orgs_role() {
    let (_db, store, a, b) = setup().await;
    let role_of_b = store
        .read_org(&OrgScope::for_checked_org(b))
        .await
        .expect("unit")
        .roles()
        .await
        .expect("roles")[0]
        .id;
    let mut unit = store
        .begin_org(&OrgScope::for_checked_org(a))
        .await
        .expect("unit");
    let member = unit.members(None, 1).await.expect("members")[0].user_id;
    let refused = unit.set_member_roles(member, &[role_of_b]).await;
    assert!(
        refused.is_err(),
        "the (org_id, role_id) foreign key refuses org B's role in org A"
    );
    drop(unit);
    store.close().await;
}

/// The hardened deployment of the README: the server logs in as a role that is only a
/// member of `tenantbase_app`, so even `RESET ROLE` leaves it without the owner's powers.
#[tokio::test]
async fn a_login_role_that_is_only_an_app_member_cannot_lift_the_wall() {
    let (db, store, a, _) = setup().await;
    store.close().await;
    let login = format!("tb_runtime_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&db.url).await.expect("admin");
    admin
        .execute(format!("CREATE ROLE {login} LOGIN IN ROLE {RUNTIME_ROLE}").as_str())
        .await
        .expect("login role");
    let url = db
        .url
        .replacen("postgres://postgres@", &format!("postgres://{login}@"), 1);
    assert_ne!(url, db.url, "the test URL names the postgres user");

    // The server works as that login…
    let runtime = PgStore::connect(
        &url,
        PgPoolConfig {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(10),
        },
    )
    .expect("pool");
    let org = runtime
        .read_org(&OrgScope::for_checked_org(a))
        .await
        .expect("unit")
        .org()
        .await
        .expect("org A through RLS");
    assert_eq!(org.id, a);
    runtime.close().await;

    // …and a connection of it that drops the role still sees nothing and owns nothing.
    let mut conn = PgConnection::connect(&url).await.expect("connect as login");
    conn.execute("RESET ROLE").await.expect("reset");
    for table in org_tables(&mut conn).await {
        assert!(visible_orgs(&mut conn, &table).await.is_empty(), "{table}");
    }
    let lifted = conn
        .execute("ALTER TABLE projects DISABLE ROW LEVEL SECURITY")
        .await;
    assert!(
        lifted.is_err(),
        "only the owner may switch row-level security off"
    );
    drop(conn);
    admin
        .execute(format!("DROP ROLE {login}").as_str())
        .await
        .expect("drop role");
}
