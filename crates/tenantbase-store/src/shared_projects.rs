//! The statements on projects and on an org's audit chain, both dialects, instantiated per
//! backend by `project_statements!` as free functions that `tenant_statements!`'s unit
//! calls with its org. Full-text search comes from the backend's `search` module.

/// Instantiates the project and org-event statements for `$db` as `project_sql`.
#[macro_export]
macro_rules! project_statements {
    ($db:ty) => {
        /// Projects and the org's events, for this backend.
        pub(crate) mod project_sql {
            use chrono::{DateTime, SubsecRound, Utc};
            use sqlx::QueryBuilder;
            use tenantbase_domain::OrgId;
            use tenantbase_domain::id::ProjectId;
            use tenantbase_domain::model::{ChainKey, Event};
            use tenantbase_store::platform::events::EventRow;
            use tenantbase_store::tenant::{EventQuery, Project, ProjectCursor, ProjectQuery, ProjectSort};
            use tenantbase_store::tenant_rows::{columns, found, ProjectRow};
            use tenantbase_store::{StoreError, StoreResult};
            use uuid::Uuid;

            type Db = $db;
            type Conn = <Db as sqlx::Database>::Connection;

            fn now() -> DateTime<Utc> {
                Utc::now().trunc_subsecs(6)
            }

        fn push_project_filters(b: &mut QueryBuilder<'_, Db>, org: Uuid, query: &ProjectQuery, search: &Option<String>) {
            b.push(" WHERE projects.org_id = ").push_bind(org);
            if !query.include_deleted {
                b.push(" AND projects.deleted_at IS NULL");
            }
            if let Some(after) = query.created_after {
                b.push(" AND projects.created_at > ").push_bind(after);
            }
            if let Some(before) = query.created_before {
                b.push(" AND projects.created_at < ").push_bind(before);
            }
            if let Some(creator) = query.created_by {
                b.push(" AND projects.created_by = ").push_bind(creator.as_uuid());
            }
            if let Some(search) = search {
                super::dialect::search::push_match(b, search.clone());
            }
        }

            pub async fn insert_projects(conn: &mut Conn, org: Uuid, projects: &[Project]) -> StoreResult<()> {
                                for project in projects {
                    sqlx::query(&format!(
                        "INSERT INTO projects (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        columns::PROJECT
                    ))
                    .bind(org)
                    .bind(project.id.as_uuid())
                    .bind(&project.name)
                    .bind(&project.description)
                    .bind(project.metadata.to_string())
                    .bind(project.created_by.as_uuid())
                    .bind(project.created_at)
                    .bind(project.updated_at)
                    .bind(project.deleted_at)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            pub async fn project(conn: &mut Conn, org: Uuid, id: ProjectId) -> StoreResult<Project> {
                let row: Option<ProjectRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM projects WHERE org_id = $1 AND id = $2",
                    columns::PROJECT
                ))
                .bind(org)
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await?;
                row.ok_or(StoreError::NotFound).and_then(Project::try_from)
            }

            pub async fn update_project(conn: &mut Conn, org: Uuid, project: &Project) -> StoreResult<()> {
                let changed = sqlx::query(
                    "UPDATE projects SET name = $3, description = $4, metadata = $5, updated_at = $6 \
                     WHERE org_id = $1 AND id = $2",
                )
                .bind(org)
                .bind(project.id.as_uuid())
                .bind(&project.name)
                .bind(&project.description)
                .bind(project.metadata.to_string())
                .bind(project.updated_at)
                .execute(&mut *conn)
                .await?;
                found(changed.rows_affected())
            }

            pub async fn set_projects_deleted(conn: &mut Conn, org: Uuid, ids: &[ProjectId], deleted_at: Option<DateTime<Utc>>) -> StoreResult<u64> {
                                let at = deleted_at.map(|at| at.trunc_subsecs(6));
                let mut changed = 0;
                for id in ids {
                    changed += sqlx::query(
                        "UPDATE projects SET deleted_at = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 \
                         AND (deleted_at IS NULL) = ($3 IS NOT NULL)",
                    )
                    .bind(org)
                    .bind(id.as_uuid())
                    .bind(at)
                    .bind(now())
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                }
                Ok(changed)
            }

            pub async fn projects(conn: &mut Conn, org: Uuid, query: &ProjectQuery) -> StoreResult<Vec<Project>> {
                let search = (!query.search_words.is_empty())
                    .then(|| super::dialect::search::query_text(&query.search_words));
                let columns: Vec<String> = columns::PROJECT.split(", ").map(|c| format!("projects.{c}")).collect();
                let mut b = QueryBuilder::<Db>::new(format!("SELECT {} FROM ", columns.join(", ")));
                b.push(if search.is_some() { super::dialect::search::FROM_MATCHING } else { "projects" });
                push_project_filters(&mut b, org, query, &search);
                let (op, dir) = if query.descending { ("<", "DESC") } else { (">", "ASC") };
                let mut offset = 0;
                match &query.after {
                    Some(ProjectCursor::CreatedAt(at, id)) => {
                        b.push(format!(" AND (projects.created_at, projects.id) {op} ("));
                        b.push_bind(*at).push(", ").push_bind(id.as_uuid()).push(")");
                    }
                    Some(ProjectCursor::Name(name, id)) => {
                        b.push(format!(" AND (projects.name, projects.id) {op} ("));
                        b.push_bind(name.clone()).push(", ").push_bind(id.as_uuid()).push(")");
                    }
                    Some(ProjectCursor::Offset(skip)) => offset = *skip,
                    None => {}
                }
                match (query.sort, &search) {
                    (ProjectSort::Relevance, Some(search)) => {
                        b.push(" ORDER BY ");
                        super::dialect::search::push_rank(&mut b, search.clone());
                        b.push(", projects.id");
                    }
                    (ProjectSort::Name, _) => {
                        b.push(format!(" ORDER BY projects.name {dir}, projects.id {dir}"));
                    }
                    _ => {
                        b.push(format!(" ORDER BY projects.created_at {dir}, projects.id {dir}"));
                    }
                }
                b.push(" LIMIT ").push_bind(i64::from(query.limit));
                b.push(" OFFSET ").push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
                let rows: Vec<ProjectRow> = b.build_query_as().fetch_all(&mut *conn).await?;
                rows.into_iter().map(Project::try_from).collect()
            }

            pub async fn events(conn: &mut Conn, org: Uuid, query: &EventQuery) -> StoreResult<Vec<Event>> {
                let columns = tenantbase_store::platform::events::EVENT_COLUMNS;
                let mut b = QueryBuilder::<Db>::new(format!("SELECT {columns} FROM events WHERE chain = "));
                b.push_bind(ChainKey::Org(OrgId::from_uuid(org)).as_string());
                if let Some(kind) = &query.event_type {
                    b.push(" AND event_type = ").push_bind(kind.clone());
                }
                if let Some(actor) = &query.actor_id {
                    b.push(" AND actor_id = ").push_bind(actor.clone());
                }
                if let Some(since) = query.since {
                    b.push(" AND occurred_at >= ").push_bind(since);
                }
                if let Some(until) = query.until {
                    b.push(" AND occurred_at < ").push_bind(until);
                }
                if let Some(before) = query.before_seq {
                    b.push(" AND seq < ").push_bind(before);
                }
                b.push(" ORDER BY seq DESC LIMIT ").push_bind(i64::from(query.limit));
                let rows: Vec<EventRow> = b.build_query_as().fetch_all(&mut *conn).await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }
        }
    };
}
