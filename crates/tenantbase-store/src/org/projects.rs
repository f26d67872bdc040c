//! Projects of an org, listed by keyset or, when searched, by relevance.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{ProjectId, UserId};
use tenantbase_domain::model::Project;
use uuid::Uuid;

use crate::rows::json_column;
use crate::{StoreError, StoreResult};

/// The columns of `projects` but `org_id`, in the order of `ProjectRow`.
pub const COLUMNS: &str =
    "id, name, description, metadata, created_by, created_at, updated_at, deleted_at";

#[async_trait]
pub trait ProjectsUnit: Send {
    async fn insert_projects(&mut self, projects: &[Project]) -> StoreResult<()>;
    /// Deleted ones included; `NotFound` if not in this org.
    async fn project(&mut self, id: ProjectId) -> StoreResult<Project>;
    async fn update_project(&mut self, project: &Project) -> StoreResult<()>;
    /// Sets or clears `deleted_at` on every id; how many rows changed.
    async fn set_projects_deleted(
        &mut self,
        ids: &[ProjectId],
        deleted_at: Option<DateTime<Utc>>,
    ) -> StoreResult<u64>;
    async fn projects(&mut self, query: &ProjectQuery) -> StoreResult<Vec<Project>>;
    /// Removes up to `limit` of the org's projects, deleted or not; how many it removed.
    /// An org's purge takes its projects away in units of bounded size.
    async fn purge_projects(&mut self, limit: u32) -> StoreResult<u64>;
}

/// The order of a project list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectSort {
    #[default]
    CreatedAt,
    Name,
    /// Best full-text match first (only with a search query).
    Relevance,
}

/// Where the previous page of a project list ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectCursor {
    CreatedAt(DateTime<Utc>, ProjectId),
    Name(String, ProjectId),
    /// Relevance pages continue by position.
    Offset(u64),
}

#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    pub include_deleted: bool,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    /// Full-text search over name and description: every word must match (as a prefix).
    pub search_words: Vec<String>,
    pub sort: ProjectSort,
    pub descending: bool,
    pub after: Option<ProjectCursor>,
    pub limit: u32,
}

/// The words of a search query: runs of letters and digits, lower-cased, as both
/// backends' tokenizers cut text (`foo-bar` is `foo` and `bar`). Nothing else survives, so
/// no query syntax of either engine can be injected through them.
pub fn search_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().take(64).flat_map(char::to_lowercase).collect())
        .take(16)
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub metadata: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;

    fn try_from(row: ProjectRow) -> Result<Self, Self::Error> {
        Ok(Project {
            id: ProjectId::from_uuid(row.id),
            metadata: json_column(&row.metadata, "project metadata")?,
            name: row.name,
            description: row.description,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }
}
