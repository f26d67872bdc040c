//! Projects, the first org-owned resource: CRUD with soft delete and restore, filtered,
//! sorted, searchable cursor-paginated lists, all-or-nothing bulk operations, and import
//! and export. Bulk operations and imports append one event per call, listing the ids.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::id::{ProjectId, UserId};
use tenantbase_store::events::RequestMeta;
use tenantbase_store::tenant::{Project, ProjectCursor, ProjectQuery, ProjectSort};
use tenantbase_store::tenant_rows::search_words;

use super::access::OrgAccess;
use super::{FieldProblem, Tenancy, TenancyError, now_micros, required_text};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5_000;
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
/// Most items a page, a bulk call or a search returns or takes.
pub const PAGE_MAX: u32 = 100;
pub const BULK_MAX: usize = 100;

/// A project to create (also a row of an import).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// A partial update: absent fields stay; `description: null` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
}

/// A list request as the API takes it.
#[derive(Debug, Clone, Default)]
pub struct ProjectListing {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub include_deleted: bool,
}

#[derive(Debug, Clone)]
pub struct ProjectPage {
    pub items: Vec<Project>,
    pub next_cursor: Option<String>,
}

/// The cursor's content: where the page ended, under which sort.
#[derive(Serialize, Deserialize)]
struct CursorBody {
    sort: String,
    desc: bool,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<ProjectId>,
    #[serde(default)]
    offset: Option<u64>,
}

fn encode_cursor(body: &CursorBody) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(body).unwrap_or_default())
}

fn decode_cursor(text: &str) -> Option<CursorBody> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
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
        (Some(name), Some(description), Some(metadata)) if problems.is_empty() => {
            Ok((name, description, metadata))
        }
        _ => Err(problems),
    }
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
        Some(text) => Ok(Some(text.to_owned())),
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
    if metadata.to_string().len() > METADATA_MAX_BYTES {
        return Err(FieldProblem::new(
            format!("{prefix}metadata"),
            format!("must be at most {METADATA_MAX_BYTES} bytes as JSON"),
        ));
    }
    Ok(metadata)
}

impl ProjectListing {
    /// The store query, or the fields that make no sense.
    fn query(&self) -> Result<ProjectQuery, TenancyError> {
        let mut problems = Vec::new();
        let limit = self.limit.unwrap_or(50);
        if !(1..=PAGE_MAX).contains(&limit) {
            problems.push(FieldProblem::new(
                "limit",
                format!("must be between 1 and {PAGE_MAX}"),
            ));
        }
        let words = self.q.as_deref().map(search_words).unwrap_or_default();
        let sort = match self.sort.as_deref() {
            None if !words.is_empty() => ProjectSort::Relevance,
            None | Some("created_at") => ProjectSort::CreatedAt,
            Some("name") => ProjectSort::Name,
            Some("relevance") if !words.is_empty() => ProjectSort::Relevance,
            Some(_) => {
                problems.push(FieldProblem::new(
                    "sort",
                    "must be created_at or name (or relevance with q)",
                ));
                ProjectSort::CreatedAt
            }
        };
        let descending = match self.order.as_deref() {
            None => sort == ProjectSort::CreatedAt,
            Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                problems.push(FieldProblem::new("order", "must be asc or desc"));
                false
            }
        };
        let sort_name = match sort {
            ProjectSort::CreatedAt => "created_at",
            ProjectSort::Name => "name",
            ProjectSort::Relevance => "relevance",
        };
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => match decode_cursor(text) {
                Some(body) if body.sort == sort_name && body.desc == descending => {
                    match (sort, body) {
                        (
                            ProjectSort::CreatedAt,
                            CursorBody {
                                at: Some(at),
                                id: Some(id),
                                ..
                            },
                        ) => Some(ProjectCursor::CreatedAt(at, id)),
                        (
                            ProjectSort::Name,
                            CursorBody {
                                name: Some(name),
                                id: Some(id),
                                ..
                            },
                        ) => Some(ProjectCursor::Name(name, id)),
                        (
                            ProjectSort::Relevance,
                            CursorBody {
                                offset: Some(offset),
                                ..
                            },
                        ) => Some(ProjectCursor::Offset(offset)),
                        _ => {
                            problems
                                .push(FieldProblem::new("cursor", "is not a cursor of this list"));
                            None
                        }
                    }
                }
                _ => {
                    problems.push(FieldProblem::new(
                        "cursor",
                        "is not a cursor of this list (same sort and order)",
                    ));
                    None
                }
            },
        };
        if let (Some(after), Some(before)) = (self.created_after, self.created_before)
            && after >= before
        {
            problems.push(FieldProblem::new(
                "created_before",
                "must be later than created_after",
            ));
        }
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        Ok(ProjectQuery {
            include_deleted: self.include_deleted,
            created_after: self.created_after,
            created_before: self.created_before,
            created_by: self.created_by,
            search_words: words,
            sort,
            descending,
            after,
            limit,
        })
    }
}

/// The cursor continuing after `page` (fetched with one extra row to know if more exist).
fn next_cursor(query: &ProjectQuery, page: &[Project], more: bool) -> Option<String> {
    let last = page.last().filter(|_| more)?;
    let mut body = CursorBody {
        sort: String::new(),
        desc: query.descending,
        at: None,
        name: None,
        id: Some(last.id),
        offset: None,
    };
    match query.sort {
        ProjectSort::CreatedAt => {
            body.sort = "created_at".to_owned();
            body.at = Some(last.created_at);
        }
        ProjectSort::Name => {
            body.sort = "name".to_owned();
            body.name = Some(last.name.clone());
        }
        ProjectSort::Relevance => {
            let done = match query.after {
                Some(ProjectCursor::Offset(offset)) => offset,
                _ => 0,
            };
            body.sort = "relevance".to_owned();
            body.id = None;
            body.offset = Some(done + page.len() as u64);
        }
    }
    Some(encode_cursor(&body))
}

fn project_event(
    access: &OrgAccess,
    kind: &str,
    id: ProjectId,
    request: &RequestMeta,
) -> tenantbase_store::events::NewEvent {
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

    /// Creates all of `items` or none; problems are reported per item.
    pub async fn bulk_create_projects(
        &self,
        access: &OrgAccess,
        items: Vec<NewProject>,
        request: &RequestMeta,
    ) -> Result<Vec<Project>, TenancyError> {
        if items.is_empty() || items.len() > BULK_MAX {
            return Err(TenancyError::invalid(
                "items",
                format!("must hold 1 to {BULK_MAX} projects"),
            ));
        }
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
        let mut unit = self.store.begin_org(access.scope()).await?;
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
        unit.append_event(event).await?;
        unit.commit().await?;
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
        let mut problems = Vec::new();
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
        let mut unit = self.store.begin_org(access.scope()).await?;
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
        unit.append_event(project_event(access, "project.updated", id, request))
            .await?;
        unit.commit().await?;
        Ok(project)
    }

    pub async fn delete_project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.store.begin_org(access.scope()).await?;
        if unit.set_projects_deleted(&[id], Some(Utc::now())).await? == 0 {
            return Err(TenancyError::NotFound);
        }
        unit.append_event(project_event(access, "project.deleted", id, request))
            .await?;
        unit.commit().await?;
        Ok(())
    }

    /// Deletes all of `ids` or none: every id must be a live project of the org.
    pub async fn bulk_delete_projects(
        &self,
        access: &OrgAccess,
        ids: Vec<ProjectId>,
        request: &RequestMeta,
    ) -> Result<u64, TenancyError> {
        if ids.is_empty() || ids.len() > BULK_MAX {
            return Err(TenancyError::invalid(
                "ids",
                format!("must hold 1 to {BULK_MAX} ids"),
            ));
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != ids.len() {
            return Err(TenancyError::invalid("ids", "must not repeat an id"));
        }
        let mut unit = self.store.begin_org(access.scope()).await?;
        let mut problems = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match unit.project(*id).await {
                Ok(project) if project.deleted_at.is_none() => {}
                Ok(_) | Err(tenantbase_store::StoreError::NotFound) => {
                    problems.push(FieldProblem::new(format!("ids[{i}]"), "no such project"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        let deleted = unit.set_projects_deleted(&ids, Some(Utc::now())).await?;
        if deleted != ids.len() as u64 {
            // Another request deleted one meanwhile: dropping the unit rolls back ours.
            return Err(TenancyError::Conflict(
                "concurrent_change",
                "Some of these projects changed meanwhile; nothing was deleted, retry.".to_owned(),
            ));
        }
        unit.append_event(access.event(
            "project.bulk_deleted",
            None,
            request,
            serde_json::json!({"count": deleted, "ids": ids}),
        ))
        .await?;
        unit.commit().await?;
        Ok(deleted)
    }

    pub async fn restore_project(
        &self,
        access: &OrgAccess,
        id: ProjectId,
        request: &RequestMeta,
    ) -> Result<Project, TenancyError> {
        let mut unit = self.store.begin_org(access.scope()).await?;
        let project = unit.project(id).await?;
        if project.deleted_at.is_none() {
            return Err(TenancyError::Conflict(
                "not_deleted",
                "The project is not deleted.".to_owned(),
            ));
        }
        unit.set_projects_deleted(&[id], None).await?;
        unit.append_event(project_event(access, "project.restored", id, request))
            .await?;
        let project = unit.project(id).await?;
        unit.commit().await?;
        Ok(project)
    }

    pub async fn projects(
        &self,
        access: &OrgAccess,
        listing: &ProjectListing,
    ) -> Result<ProjectPage, TenancyError> {
        let query = listing.query()?;
        let mut fetch = query.clone();
        fetch.limit = query.limit + 1;
        let mut items = self
            .store
            .read_org(access.scope())
            .await?
            .projects(&fetch)
            .await?;
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        let next_cursor = next_cursor(&query, &items, more);
        Ok(ProjectPage { items, next_cursor })
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

/// A file format of export and import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 with a header row; `metadata` is a JSON text cell.
    Csv,
}

const CSV_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "description",
    "metadata",
    "created_by",
    "created_at",
    "updated_at",
];

/// Most rows one import takes.
pub const IMPORT_MAX_ROWS: usize = 10_000;

impl ExportFormat {
    /// What the export starts with (the CSV header).
    pub fn preamble(self) -> Vec<u8> {
        match self {
            ExportFormat::Jsonl => Vec::new(),
            ExportFormat::Csv => csv_line(&CSV_COLUMNS),
        }
    }

    /// One project, as a line of the export.
    pub fn line(self, project: &Project) -> Vec<u8> {
        let created_at = project
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let updated_at = project
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        match self {
            ExportFormat::Jsonl => {
                let mut line = serde_json::to_vec(&serde_json::json!({
                    "id": project.id,
                    "name": project.name,
                    "description": project.description,
                    "metadata": project.metadata,
                    "created_by": project.created_by,
                    "created_at": created_at,
                    "updated_at": updated_at,
                }))
                .unwrap_or_default();
                line.push(b'\n');
                line
            }
            ExportFormat::Csv => csv_line(&[
                &project.id.to_string(),
                &project.name,
                project.description.as_deref().unwrap_or_default(),
                &project.metadata.to_string(),
                &project.created_by.to_string(),
                &created_at,
                &updated_at,
            ]),
        }
    }

    /// Reads an import: every row is parsed (and later validated) before any is written;
    /// problems name the row (`rows[0]` is the first data row).
    pub fn parse_import(self, body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
        let rows = match self {
            ExportFormat::Jsonl => parse_jsonl(body)?,
            ExportFormat::Csv => parse_csv(body)?,
        };
        if rows.len() > IMPORT_MAX_ROWS {
            return Err(TenancyError::invalid(
                "rows",
                format!("at most {IMPORT_MAX_ROWS} rows per import"),
            ));
        }
        Ok(rows)
    }
}

/// Cells a spreadsheet would run as a formula start with one of these.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn csv_line(cells: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // A leading `'` keeps spreadsheets from running a cell as a formula (CSV injection);
    // the import takes it off again.
    let cells = cells.iter().map(|cell| {
        if cell.starts_with(FORMULA_STARTS) {
            format!("'{cell}")
        } else {
            (*cell).to_owned()
        }
    });
    // Writing to memory cannot fail.
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

/// A cell as exported, without the formula guard `csv_line` added.
fn csv_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

fn parse_jsonl(body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| TenancyError::invalid("rows", "the body is not UTF-8"))?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        match serde_json::from_str::<NewProject>(line) {
            Ok(row) => rows.push(row),
            Err(e) => problems.push(FieldProblem::new(
                format!("rows[{i}]"),
                format!("not a project object: {e}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(TenancyError::Invalid(problems))
    }
}

fn parse_csv(body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| TenancyError::invalid("rows", format!("unreadable CSV header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let Some(name_at) = column("name") else {
        return Err(TenancyError::invalid(
            "rows",
            "the CSV header has no `name` column",
        ));
    };
    let (description_at, metadata_at) = (column("description"), column("metadata"));
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(FieldProblem::new(
                    format!("rows[{i}]"),
                    format!("unreadable CSV row: {e}"),
                ));
                continue;
            }
        };
        let cell = |at: Option<usize>| {
            at.and_then(|at| record.get(at))
                .map(csv_cell)
                .filter(|c| !c.is_empty())
        };
        let metadata = match cell(metadata_at).map(serde_json::from_str::<serde_json::Value>) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(_)) => {
                problems.push(FieldProblem::new(
                    format!("rows[{i}].metadata"),
                    "is not JSON",
                ));
                continue;
            }
        };
        rows.push(NewProject {
            name: csv_cell(record.get(name_at).unwrap_or_default()).to_owned(),
            description: cell(description_at).map(str::to_owned),
            metadata,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(TenancyError::Invalid(problems))
    }
}
