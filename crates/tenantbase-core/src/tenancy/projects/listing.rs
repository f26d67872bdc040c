//! Listing projects: the API's query (filters, sort, search, cursor) checked and turned
//! into a store query, and the opaque cursor that continues a page.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::id::{ProjectId, UserId};
use tenantbase_domain::model::Project;
use tenantbase_store::org::projects::{ProjectCursor, ProjectQuery, ProjectSort, search_words};

use super::PAGE_MAX;
use crate::tenancy::{FieldProblem, TenancyError};

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

impl ProjectListing {
    /// The store query, or the fields that make no sense.
    pub(super) fn query(&self) -> Result<ProjectQuery, TenancyError> {
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
pub(super) fn next_cursor(query: &ProjectQuery, page: &[Project], more: bool) -> Option<String> {
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
