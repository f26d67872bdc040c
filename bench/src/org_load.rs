//! Org scenarios: reading one project, the first page of a list (50), creating projects —
//! each beside `/health` on the same server — and the same reads again after seeding
//! 10,000 orgs with 1,000,000 projects, to show that indexes keep them flat.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use crate::load::{self, Flow};

/// A signed-in owner of a fresh org holding `projects` projects.
pub struct Fixture {
    pub token: String,
    pub org: String,
    pub user: String,
    pub projects: Vec<String>,
}

/// Creates `count` more orgs for the fixture's owner (creations spread over them).
pub async fn more_orgs(
    addr: SocketAddr,
    fixture: &Fixture,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut orgs = Vec::with_capacity(count);
    for i in 0..count {
        let created = call(
            addr,
            authorized(
                load::post_json("/v1/orgs", &json!({"name": format!("Bench {i}")})),
                &fixture.token,
            ),
            StatusCode::CREATED,
        )
        .await?;
        orgs.push(created["id"].as_str().unwrap_or_default().to_owned());
    }
    Ok(orgs)
}

pub(crate) async fn call(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
    expect: StatusCode,
) -> anyhow::Result<Value> {
    let Some((status, body)) = load::once(addr, request).await else {
        anyhow::bail!("no answer during set-up");
    };
    anyhow::ensure!(
        status == expect,
        "set-up answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body)?)
}

pub(crate) fn authorized(mut request: Request<Full<Bytes>>, token: &str) -> Request<Full<Bytes>> {
    let value = format!("Bearer {token}").parse().expect("header value");
    request.headers_mut().insert("authorization", value);
    request
}

pub async fn fixture(addr: SocketAddr, projects: usize) -> anyhow::Result<Fixture> {
    let account = crate::auth_load::register(addr, "bench-owner@example.com").await?;
    let token = account["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let user = account["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let org = call(
        addr,
        authorized(
            load::post_json("/v1/orgs", &json!({"name": "Bench"})),
            &token,
        ),
        StatusCode::CREATED,
    )
    .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut ids = Vec::with_capacity(projects);
    for chunk in (0..projects).collect::<Vec<_>>().chunks(100) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"name": format!("project {i}"), "description": format!("benchmark project number {i}")}))
            .collect();
        let created = call(
            addr,
            authorized(
                load::post_json(
                    &format!("/v1/orgs/{org}/projects/bulk"),
                    &json!({"items": items}),
                ),
                &token,
            ),
            StatusCode::CREATED,
        )
        .await?;
        ids.extend(
            created["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["id"].as_str().map(str::to_owned)),
        );
    }
    Ok(Fixture {
        token,
        org,
        user,
        projects: ids,
    })
}

/// GETs the fixture's projects in turn.
struct GetProjects {
    paths: Arc<Vec<String>>,
    next: usize,
    token: String,
}

impl Flow for GetProjects {
    fn request(&mut self) -> Request<Full<Bytes>> {
        self.next = (self.next + 1) % self.paths.len();
        let request = Request::get(self.paths[self.next].as_str())
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        authorized(request, &self.token)
    }
}

/// Creates a project per request.
struct CreateProjects {
    path: String,
    token: String,
    counter: Arc<AtomicU64>,
}

impl Flow for CreateProjects {
    fn request(&mut self) -> Request<Full<Bytes>> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        authorized(
            load::post_json(&self.path, &json!({"name": format!("created {n}")})),
            &self.token,
        )
    }
}

pub fn get_flows(fixture: &Fixture, connections: usize) -> Vec<Box<dyn Flow>> {
    let paths: Arc<Vec<String>> = Arc::new(
        fixture
            .projects
            .iter()
            .map(|id| format!("/v1/orgs/{}/projects/{id}", fixture.org))
            .collect(),
    );
    (0..connections)
        .map(|i| {
            Box::new(GetProjects {
                paths: paths.clone(),
                next: i,
                token: fixture.token.clone(),
            }) as Box<dyn Flow>
        })
        .collect()
}

pub fn list_flows(fixture: &Fixture, connections: usize) -> Vec<Box<dyn Flow>> {
    let path = Arc::new(vec![format!("/v1/orgs/{}/projects?limit=50", fixture.org)]);
    (0..connections)
        .map(|_| {
            Box::new(GetProjects {
                paths: path.clone(),
                next: 0,
                token: fixture.token.clone(),
            }) as Box<dyn Flow>
        })
        .collect()
}

/// Connections create projects in `orgs` round-robin (one org's creations queue on its
/// audit chain, which is serial by design: ADR 0004).
pub fn create_flows(fixture: &Fixture, orgs: &[String], connections: usize) -> Vec<Box<dyn Flow>> {
    let counter = Arc::new(AtomicU64::new(0));
    (0..connections)
        .map(|i| {
            Box::new(CreateProjects {
                path: format!("/v1/orgs/{}/projects", orgs[i % orgs.len()]),
                token: fixture.token.clone(),
                counter: counter.clone(),
            }) as Box<dyn Flow>
        })
        .collect()
}

/// After a wrk-style cut-off: how the server answers the first write (a project create,
/// with its latency) and `/ready`, at once.
pub async fn after_cut_off(addr: SocketAddr, fixture: &Fixture) -> Value {
    let started = std::time::Instant::now();
    let create = authorized(
        load::post_json(
            &format!("/v1/orgs/{}/projects", fixture.org),
            &json!({"name": "after the cut-off"}),
        ),
        &fixture.token,
    );
    let write_status = load::once(addr, create)
        .await
        .map(|(status, _)| status.as_u16());
    let write_ms = started.elapsed().as_secs_f64() * 1000.0;
    json!({
        "write_status": write_status,
        "write_ms": (write_ms * 10.0).round() / 10.0,
        "ready_status": load::probe(addr, "/ready").await,
    })
}

/// What there is after seeding, the same in both dialects.
const COUNTS: &str = "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM projects)";

/// Seeds 9,999 more orgs with 100 projects each straight into the server's database
/// (about 1,000,000 projects in all), refreshes the planner's statistics, and answers the
/// number of orgs and projects there are now.
pub async fn seed_scale(database_url: &str, owner: &str) -> anyhow::Result<(i64, i64)> {
    use sqlx::Connection;
    let owner: tenantbase_domain::id::UserId = owner.parse()?;
    if database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(database_url).await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at) \
             SELECT gen_random_uuid(), 'seed ' || i, 'seed-' || i, $1, now(), now() \
             FROM generate_series(1, 9999) i",
        )
        .bind(owner.as_uuid())
        .execute(&mut conn)
        .await?;
        sqlx::query(
            "INSERT INTO projects (id, org_id, name, description, metadata, created_by, created_at, updated_at) \
             SELECT gen_random_uuid(), o.id, 'project ' || g, 'seeded project number ' || g, '{}', $1, \
                    now() - g * interval '1 second', now() \
             FROM organizations o CROSS JOIN generate_series(1, 100) g WHERE o.slug LIKE 'seed-%'",
        )
        .bind(owner.as_uuid())
        .execute(&mut conn)
        .await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
        Ok(sqlx::query_as(COUNTS).fetch_one(&mut conn).await?)
    } else {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) \
             INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at) \
             SELECT randomblob(16), 'seed ' || i, 'seed-' || i, $1, \
                    strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM n",
        )
        .bind(owner.as_uuid())
        .execute(&mut conn)
        .await?;
        sqlx::query(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 100) \
             INSERT INTO projects (id, org_id, name, description, metadata, created_by, created_at, updated_at) \
             SELECT randomblob(16), o.id, 'project ' || g.i, 'seeded project number ' || g.i, '{}', $1, \
                    strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') \
             FROM organizations o, g WHERE o.slug LIKE 'seed-%'",
        )
        .bind(owner.as_uuid())
        .execute(&mut conn)
        .await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
        Ok(sqlx::query_as(COUNTS).fetch_one(&mut conn).await?)
    }
}
