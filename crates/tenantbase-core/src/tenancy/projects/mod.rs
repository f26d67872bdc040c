//! Projects, the first org-owned resource: CRUD with soft delete and restore, filtered,
//! sorted, searchable cursor-paginated lists, all-or-nothing bulk operations, and import
//! and export. Bulk operations and imports append one event per call, listing the ids.

mod listing;
mod transfer;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenantbase_domain::id::ProjectId;
use tenantbase_domain::model::{Project, RequestMeta};
use tenantbase_domain::nul::nul_paths;
use tenantbase_domain::page::{Page, PageQuery};
use tenantbase_store::org::projects::{ProjectCursor, ProjectQuery, ProjectSort};
use unicode_normalization::UnicodeNormalization;

pub use listing::{ProjectFilter, Sort};
pub use transfer::{ExportFormat, IMPORT_MAX_ROWS};

use super::access::OrgAccess;
use super::cache::OrgStale;
use super::{
    FieldProblem, Tenancy, TenancyError, after_refused_problems, now_micros, required_text,
};
use crate::write::Change;

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
/// Most items a bulk call takes.
pub const BULK_MAX: usize = 100;

/// A project to create (also a row of an import).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(
        default,
        deserialize_with = "tenantbase_domain::unique_json::optional_unique"
    )]
    pub metadata: Option<serde_json::Value>,
    /// Problems found before the project got here (a member of the wrong type, an absent
    /// name): refused with its own, so one answer names every field.
    #[serde(skip)]
    pub refused: Vec<FieldProblem>,
}

/// A partial update: absent fields stay; `description: null` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
    /// Problems found before the change got here (a field sent as `null` that cannot be,
    /// or of the wrong type): refused with the change's own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

/// Validates a new project's fields; problems are reported under `prefix` (`items[3].`).
fn validate_new(
    prefix: &str,
    new: &NewProject,
) -> Result<(String, Option<String>, serde_json::Value), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let name = required_text(&format!("{prefix}name"), &new.name, NAME_MAX)
        .map_err(|p| problems.push(p))
        .ok();
    let description = validate_description(prefix, new.description.as_deref())
        .map_err(|p| problems.push(p))
        .ok();
    let metadata = validate_metadata(prefix, new.metadata.clone())
        .map_err(|p| problems.push(p))
        .ok();
    match (name, description, metadata) {
        (Some(name), Some(description), Some(metadata))
            if problems.is_empty() && new.refused.is_empty() =>
        {
            Ok((name, description, metadata))
        }
        _ => Err(after_refused_problems(new.refused.clone(), problems)),
    }
}

/// An item of a bulk call or a row of an import as read: the project, or why it could
/// not be read.
pub type ReadItem = Result<NewProject, Vec<FieldProblem>>;

/// The items when all could be read; otherwise every problem, item by item: those of the
/// unreadable items and the field problems of the readable ones (`{collection}[i].…`), so
/// one answer names them all.
fn all_or_every_problem(
    collection: &str,
    items: Vec<ReadItem>,
) -> Result<Vec<NewProject>, TenancyError> {
    if items.iter().all(Result::is_ok) {
        return Ok(items.into_iter().flatten().collect());
    }
    let problems = items
        .into_iter()
        .enumerate()
        .flat_map(|(i, item)| match item {
            Ok(item) => validate_new(&format!("{collection}[{i}]."), &item)
                .err()
                .unwrap_or_default(),
            Err(problems) => problems,
        })
        .collect();
    Err(TenancyError::Invalid(problems))
}

fn validate_description(
    prefix: &str,
    description: Option<&str>,
) -> Result<Option<String>, FieldProblem> {
    match description.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > DESCRIPTION_MAX => Err(FieldProblem::new(
            format!("{prefix}description"),
            format!("must be at most {DESCRIPTION_MAX} characters"),
        )),
        // PostgreSQL cannot store NUL (SQLSTATE 22021); imports bring it past `ApiJson`.
        Some(text) if text.contains('\0') => Err(FieldProblem::new(
            format!("{prefix}description"),
            "must not contain a NUL character (U+0000)",
        )),
        // Composed as names are, so the search finds what it was typed with.
        Some(text) => Ok(Some(text.nfc().collect())),
    }
}

fn validate_metadata(
    prefix: &str,
    metadata: Option<serde_json::Value>,
) -> Result<serde_json::Value, FieldProblem> {
    let metadata = metadata.unwrap_or_else(|| serde_json::json!({}));
    if !metadata.is_object() {
        return Err(FieldProblem::new(
            format!("{prefix}metadata"),
            "must be a JSON object",
        ));
    }
    let json = metadata.to_string();
    if json.len() > METADATA_MAX_BYTES {
        return Err(FieldProblem::new(
            format!("{prefix}metadata"),
            format!("must be at most {METADATA_MAX_BYTES} bytes as JSON"),
        ));
    }
    // PostgreSQL's jsonb refuses NUL (SQLSTATE 22P05); imports bring it past `ApiJson`.
    if json.contains("\\u0000") && !nul_paths(&metadata).is_empty() {
        return Err(FieldProblem::new(
            format!("{prefix}metadata"),
            "must not contain a NUL character (U+0000)",
        ));
    }
    Ok(metadata)
}

fn not_deleted() -> TenancyError {
    TenancyError::Conflict("not_deleted", "The project is not deleted.".to_owned())
}

fn project_event(
    access: &OrgAccess,
    kind: &str,
    id: ProjectId,
    request: &RequestMeta,
) -> tenantbase_store::platform::events::NewEvent {
    access.event(
        kind,
        Some(("project", id.to_string())),
        request,
        serde_json::json!({}),
    )
}

impl Tenancy {
    pub async fn create_project(
        &self,
        access: &OrgAccess,
        new: NewProject,
        request: &RequestMeta,
    ) -> Result<Project, TenancyError> {
        let mut created = self.insert_projects(access, vec![new], "", request).await?;
        created
            .pop()
            .ok_or(TenancyError::Internal("no project created".to_owned()))
    }

    /// Creates all of `items` or none; problems are reported per item, those of items
    /// that could not be read with those of the others.
    pub async fn bulk_create_projects(
        &self,
        access: &OrgAccess,
        items: Vec<ReadItem>,
        request: &RequestMeta,
    ) -> Result<Vec<Project>, TenancyError> {
        if items.is_empty() || items.len() > BULK_MAX {
            return Err(TenancyError::invalid(
                "items",
                format!("must hold 1 to {BULK_MAX} projects"),
            ));
        }
        let items = all_or_every_problem("items", items)?;
        self.insert_projects(access, items, "items", request).await
    }

    /// Imports rows all-or-nothing: every row is validated before any is written.
    pub async fn import_projects(
        &self,
        access: &OrgAccess,
        rows: Vec<NewProject>,
        request: &RequestMeta,
    ) -> Result<Vec<Project>, TenancyError> {
        if rows.is_empty() {
            return Err(TenancyError::invalid("rows", "the import holds no rows"));
        }
        self.insert_projects(access, rows, "rows", request).await
    }

    /// Validates every item, then writes them in one unit with one event (`project.created`
    /// for one, `project.{bulk_created,imported}` with the ids for many).
    async fn insert_projects(
        &self,
        access: &OrgAccess,
        items: Vec<NewProject>,
        collection: &str,
        request: &RequestMeta,
    ) -> Result<Vec<Project>, TenancyError> {
        let created_by = access.accountable_user();
        let now = now_micros();
        let mut problems = Vec::new();
        let mut projects = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let prefix = if collection.is_empty() {
                String::new()
            } else {
                format!("{collection}[{i}].")
            };
            match validate_new(&prefix, item) {
                Ok((name, description, metadata)) => projects.push(Project {
                    id: ProjectId::new(),
                    name,
                    description,
                    metadata,
                    created_by,
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                }),
                Err(mut found) => problems.append(&mut found),
            }
        }
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        let mut unit = self.write(access.scope()).await?;
        unit.insert_projects(&projects).await?;
        let event = match (collection, projects.as_slice()) {
            ("", [one]) => project_event(access, "project.created", one.id, request),
            _ => access.event(
                if collection == "rows" { "project.imported" } else { "project.bulk_created" },
                None,
                request,
                serde_json::json!({"count": projects.len(), "ids": projects.iter().map(|p| p.id).collect::<Vec<_>>()}),
            ),
        };
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(projects)
    }

    /// A live project; deleted ones are 404 (restore them by id).
    pub async fn project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
    ) -> Result<Project, TenancyError> {
        let project = self
            .store
            .read_org(access.scope())
            .await?
            .project(id)
            .await?;
        if project.deleted_at.is_some() {
            return Err(TenancyError::NotFound);
        }
        Ok(project)
    }

    pub async fn update_project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
        patch: ProjectPatch,
        request: &RequestMeta,
    ) -> Result<Project, TenancyError> {
        let mut problems = patch.refused;
        let name = patch
            .name
            .as_deref()
            .map(|n| required_text("name", n, NAME_MAX))
            .transpose()
            .map_err(|p| problems.push(p))
            .ok()
            .flatten();
        let description = patch
            .description
            .as_ref()
            .map(|d| validate_description("", d.as_deref()))
            .transpose()
            .map_err(|p| problems.push(p))
            .ok()
            .flatten();
        let metadata = patch
            .metadata
            .clone()
            .map(|m| validate_metadata("", Some(m)))
            .transpose()
            .map_err(|p| problems.push(p))
            .ok()
            .flatten();
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        let mut unit = self.write(access.scope()).await?;
        let mut project = unit.project(id).await?;
        if project.deleted_at.is_some() {
            return Err(TenancyError::NotFound);
        }
        if let Some(name) = name {
            project.name = name;
        }
        if let Some(description) = description {
            project.description = description;
        }
        if let Some(metadata) = metadata {
            project.metadata = metadata;
        }
        project.updated_at = now_micros();
        unit.update_project(&project).await?;
        let event = project_event(access, "project.updated", id, request);
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(project)
    }

    pub async fn delete_project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        if unit.set_projects_deleted(&[id], Some(Utc::now())).await? == 0 {
            return Err(TenancyError::NotFound);
        }
        let event = project_event(access, "project.deleted", id, request);
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(())
    }

    /// Deletes all of `ids` or none: each must name a distinct live project of the org,
    /// and every one that does not is named at once (`ids[3]`), whatever is wrong with it.
    pub async fn bulk_delete_projects(
        &self,
        access: &OrgAccess,
        ids: &[String],
        request: &RequestMeta,
    ) -> Result<u64, TenancyError> {
        if ids.is_empty() || ids.len() > BULK_MAX {
            return Err(TenancyError::invalid(
                "ids",
                format!("must hold 1 to {BULK_MAX} ids"),
            ));
        }
        let mut unit = self.write(access.scope()).await?;
        let mut problems = Vec::new();
        // Each id and the index it first appears at.
        let mut first_at: HashMap<ProjectId, usize> = HashMap::with_capacity(ids.len());
        for (i, text) in ids.iter().enumerate() {
            let field = format!("ids[{i}]");
            let Ok(id) = text.parse::<ProjectId>() else {
                problems.push(FieldProblem::new(field, "is not a valid id of this kind"));
                continue;
            };
            if let Some(first) = first_at.get(&id) {
                problems.push(FieldProblem::new(field, format!("repeats ids[{first}]")));
                continue;
            }
            first_at.insert(id, i);
            match unit.project(id).await {
                Ok(project) if project.deleted_at.is_none() => {}
                // Another org's id reads as absent: its existence is not ours to tell.
                Ok(_) | Err(tenantbase_store::StoreError::NotFound) => {
                    problems.push(FieldProblem::new(field, "no such project"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        let mut ids: Vec<(ProjectId, usize)> = first_at.into_iter().collect();
        ids.sort_by_key(|(_, at)| *at);
        let ids: Vec<ProjectId> = ids.into_iter().map(|(id, _)| id).collect();
        let deleted = unit.set_projects_deleted(&ids, Some(Utc::now())).await?;
        if deleted != ids.len() as u64 {
            // Another request deleted one meanwhile: dropping the unit rolls back ours.
            return Err(TenancyError::Conflict(
                "concurrent_change",
                "Some of these projects changed meanwhile; nothing was deleted, retry.".to_owned(),
            ));
        }
        let event = access.event(
            "project.bulk_deleted",
            None,
            request,
            serde_json::json!({"count": deleted, "ids": ids}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(deleted)
    }

    pub async fn restore_project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
        request: &RequestMeta,
    ) -> Result<Project, TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        let project = unit.project(id).await?;
        if project.deleted_at.is_none() {
            return Err(not_deleted());
        }
        // A restore racing this one may have brought it back since the read (PostgreSQL):
        // only the one whose update lands restores it, the others find it not deleted.
        if unit.set_projects_deleted(&[id], None).await? == 0 {
            return Err(not_deleted());
        }
        let project = unit.project(id).await?;
        let event = project_event(access, "project.restored", id, request);
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(project)
    }

    pub async fn projects(
        &self,
        access: &OrgAccess,
        page: &PageQuery,
        filter: &ProjectFilter,
    ) -> Result<Page<Project>, TenancyError> {
        let query = filter.query(page)?;
        let fetched = self
            .store
            .read_org(access.scope())
            .await?
            .projects(&query)
            .await?;
        Ok(listing::page_of(&query, page, fetched))
    }

    /// One page of the export, oldest first; `None` starts at the beginning.
    pub async fn export_page(
        &self,
        access: &OrgAccess,
        after: Option<(DateTime<Utc>, ProjectId)>,
        limit: u32,
    ) -> Result<Vec<Project>, TenancyError> {
        let query = ProjectQuery {
            sort: ProjectSort::CreatedAt,
            descending: false,
            after: after.map(|(at, id)| ProjectCursor::CreatedAt(at, id)),
            limit,
            ..ProjectQuery::default()
        };
        Ok(self
            .store
            .read_org(access.scope())
            .await?
            .projects(&query)
            .await?)
    }
}
