//! The statements on an org's projects; full-text search comes from the dialect's
//! `search` module.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::QueryBuilder;
use tenantbase_domain::id::ProjectId;
use tenantbase_domain::model::Project;
use tenantbase_store::org::projects::{
    self, ProjectCursor, ProjectQuery, ProjectRow, ProjectSort, ProjectsUnit,
};
use tenantbase_store::rows::found;
use tenantbase_store::{StoreError, StoreResult};
use uuid::Uuid;

use super::{OrgTx, now};
use crate::dialect::{self, Db, search};

/// Most project inserts one unit sends ahead of its next statement: a bulk create's.
const MAX_DEFERRED_INSERTS: usize = 100;

fn push_filters(
    b: &mut QueryBuilder<'_, Db>,
    org: Uuid,
    query: &ProjectQuery,
    search: &Option<String>,
) {
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
        b.push(" AND projects.created_by = ")
            .push_bind(creator.as_uuid());
    }
    if let Some(text) = search {
        search::push_match(b, text.clone());
    }
}

#[async_trait]
impl ProjectsUnit for OrgTx {
    async fn insert_projects(&mut self, projects: &[Project]) -> StoreResult<()> {
        let org = self.org_id();
        // Each goes with the unit's next statement: on PostgreSQL a create's inserts, its
        // events and its COMMIT make one round trip. Not for an import's thousands of
        // rows: deferred statements wait in the connection's buffer, and their answers in
        // the socket, until that statement is sent.
        let deferred = projects.len() <= MAX_DEFERRED_INSERTS;
        for project in projects {
            if deferred {
                dialect::defer_next(&mut self.tx);
            }
            sqlx::query(&format!(
                "INSERT INTO projects (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                projects::COLUMNS
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
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn project(&mut self, id: ProjectId) -> StoreResult<Project> {
        let row: Option<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {} FROM projects WHERE org_id = $1 AND id = $2",
            projects::COLUMNS
        ))
        .bind(self.org_id())
        .bind(id.as_uuid())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.ok_or(StoreError::NotFound).and_then(Project::try_from)
    }

    async fn update_project(&mut self, project: &Project) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE projects SET name = $3, description = $4, metadata = $5, updated_at = $6 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(self.org_id())
        .bind(project.id.as_uuid())
        .bind(&project.name)
        .bind(&project.description)
        .bind(project.metadata.to_string())
        .bind(project.updated_at)
        .execute(&mut *self.tx)
        .await?;
        found(changed.rows_affected())
    }

    async fn set_projects_deleted(
        &mut self,
        ids: &[ProjectId],
        deleted_at: Option<DateTime<Utc>>,
    ) -> StoreResult<u64> {
        let org = self.org_id();
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
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        }
        Ok(changed)
    }

    async fn purge_projects(&mut self, limit: u32) -> StoreResult<u64> {
        let removed = sqlx::query(
            "DELETE FROM projects WHERE org_id = $1 AND id IN \
             (SELECT id FROM projects WHERE org_id = $1 LIMIT $2)",
        )
        .bind(self.org_id())
        .bind(i64::from(limit))
        .execute(&mut *self.tx)
        .await?;
        Ok(removed.rows_affected())
    }

    async fn projects(&mut self, query: &ProjectQuery) -> StoreResult<Vec<Project>> {
        let search =
            (!query.search_words.is_empty()).then(|| search::query_text(&query.search_words));
        let columns: Vec<String> = projects::COLUMNS
            .split(", ")
            .map(|c| format!("projects.{c}"))
            .collect();
        let mut b = QueryBuilder::<Db>::new(format!("SELECT {} FROM ", columns.join(", ")));
        b.push(if search.is_some() {
            search::FROM_MATCHING
        } else {
            "projects"
        });
        push_filters(&mut b, self.org_id(), query, &search);
        let (op, dir) = if query.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut offset = 0;
        match &query.after {
            Some(ProjectCursor::CreatedAt(at, id)) => {
                b.push(format!(" AND (projects.created_at, projects.id) {op} ("));
                b.push_bind(*at)
                    .push(", ")
                    .push_bind(id.as_uuid())
                    .push(")");
            }
            Some(ProjectCursor::Name(name, id)) => {
                b.push(format!(" AND (projects.name, projects.id) {op} ("));
                b.push_bind(name.clone())
                    .push(", ")
                    .push_bind(id.as_uuid())
                    .push(")");
            }
            Some(ProjectCursor::Offset(skip)) => offset = *skip,
            None => {}
        }
        match (query.sort, &search) {
            (ProjectSort::Relevance, Some(text)) => {
                b.push(" ORDER BY ");
                search::push_rank(&mut b, text.clone());
                b.push(", projects.id");
            }
            (ProjectSort::Name, _) => {
                b.push(format!(" ORDER BY projects.name {dir}, projects.id {dir}"));
            }
            _ => {
                b.push(format!(
                    " ORDER BY projects.created_at {dir}, projects.id {dir}"
                ));
            }
        }
        b.push(" LIMIT ").push_bind(i64::from(query.limit));
        b.push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let rows: Vec<ProjectRow> = b.build_query_as().fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(Project::try_from).collect()
    }
}
