//! Listing projects: the filters the API takes (parsed and documented here), checked with
//! the page asked for and turned into the store's query; the cursor that continues a page
//! holds the last project's sort key, or — by relevance — how many matches came before.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::id::{ProjectId, UserId};
use tenantbase_domain::model::Project;
use tenantbase_domain::page::{Cursor, InvalidCursor, Order, Page, PageQuery};
use tenantbase_store::org::projects::{ProjectCursor, ProjectQuery, ProjectSort, search_words};
use unicode_normalization::UnicodeNormalization;
use utoipa::IntoParams;

use crate::tenancy::{FieldProblem, TenancyError};

/// What to list: filters, sort and search; `PageQuery` says which page.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectFilter {
    /// Full-text search over name and description: every word must match, as a prefix.
    pub q: Option<String>,
    /// `created_at` (default) or `name`; with `q`, relevance unless set.
    #[param(value_type = Option<String>)]
    pub sort: Option<Sort>,
    /// `asc` or `desc` (default `desc` for `created_at`, `asc` for `name`).
    #[param(value_type = Option<String>)]
    pub order: Option<Order>,
    #[serde(default, deserialize_with = "crate::tenancy::four_digit_year")]
    pub created_after: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::tenancy::four_digit_year")]
    pub created_before: Option<DateTime<Utc>>,
    /// `usr_…`
    #[param(value_type = Option<String>)]
    pub created_by: Option<UserId>,
    #[serde(default)]
    pub include_deleted: bool,
}

/// What a project list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    CreatedAt,
    Name,
    /// Best match first; only with a search (`q`).
    Relevance,
}

/// Where a page ended, under which sort and direction: a cursor continues only the list
/// it came from.
#[derive(Serialize, Deserialize)]
enum Position {
    CreatedAt {
        desc: bool,
        at: DateTime<Utc>,
        id: ProjectId,
    },
    Name {
        desc: bool,
        name: String,
        id: ProjectId,
    },
    Relevance {
        desc: bool,
        offset: u64,
        /// `list_of` the query: an offset means nothing in another list.
        list: String,
    },
}

/// A short fingerprint of what a searched list holds (its words and filters), so that a
/// relevance cursor, an offset, continues only the list it came from.
fn list_of(query: &ProjectQuery) -> String {
    use sha2::{Digest, Sha256};
    let described = format!(
        "{:?}|{}|{:?}|{:?}|{:?}",
        query.search_words,
        query.include_deleted,
        query.created_after,
        query.created_before,
        query.created_by
    );
    let digest = Sha256::digest(described.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl ProjectFilter {
    /// The store query for `page` of this list (one row more than the page holds, to
    /// know whether more follow), or every field that makes no sense.
    pub(super) fn query(&self, page: &PageQuery) -> Result<ProjectQuery, TenancyError> {
        let mut problems = Vec::new();
        // Composed as names and descriptions are kept: `e` + U+0301 finds `é`.
        let words = self
            .q
            .as_deref()
            .map(|q| search_words(&q.nfc().collect::<String>()))
            .unwrap_or_default();
        let sort = match self.sort {
            None if !words.is_empty() => ProjectSort::Relevance,
            None | Some(Sort::CreatedAt) => ProjectSort::CreatedAt,
            Some(Sort::Name) => ProjectSort::Name,
            Some(Sort::Relevance) if !words.is_empty() => ProjectSort::Relevance,
            Some(Sort::Relevance) => {
                problems.push(FieldProblem::new(
                    "sort",
                    "must be created_at or name (or relevance with q)",
                ));
                ProjectSort::CreatedAt
            }
        };
        let descending = self
            .order
            .map_or(sort == ProjectSort::CreatedAt, Order::is_desc);
        let mut query = ProjectQuery {
            include_deleted: self.include_deleted,
            created_after: self.created_after,
            created_before: self.created_before,
            created_by: self.created_by,
            search_words: words,
            sort,
            descending,
            after: None,
            limit: page.limit.fetch(),
        };
        if let Some(cursor) = &page.cursor {
            match continuation(cursor, &query) {
                Ok(after) => query.after = Some(after),
                Err(invalid) => problems.push(invalid.into()),
            }
        }
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
        Ok(query)
    }
}

/// Where `cursor` continues the list `query` reads (its sort and direction; for a
/// relevance cursor, its words and filters too).
fn continuation(cursor: &Cursor, query: &ProjectQuery) -> Result<ProjectCursor, InvalidCursor> {
    let descending = query.descending;
    match (query.sort, cursor.decode()?) {
        (ProjectSort::CreatedAt, Position::CreatedAt { desc, at, id }) if desc == descending => {
            Ok(ProjectCursor::CreatedAt(at, id))
        }
        (ProjectSort::Name, Position::Name { desc, name, id }) if desc == descending => {
            Ok(ProjectCursor::Name(name, id))
        }
        (ProjectSort::Relevance, Position::Relevance { desc, offset, list })
            if desc == descending && list == list_of(query) =>
        {
            Ok(ProjectCursor::Offset(offset))
        }
        _ => Err(InvalidCursor),
    }
}

/// The page of `fetched`, read with `query` for `page`.
pub(super) fn page_of(
    query: &ProjectQuery,
    page: &PageQuery,
    fetched: Vec<Project>,
) -> Page<Project> {
    let desc = query.descending;
    let before = match query.after {
        Some(ProjectCursor::Offset(offset)) => offset,
        _ => 0,
    };
    let shown = fetched.len().min(page.limit.get() as usize) as u64;
    Page::of(fetched, page.limit, |last| match query.sort {
        ProjectSort::CreatedAt => Position::CreatedAt {
            desc,
            at: last.created_at,
            id: last.id,
        },
        ProjectSort::Name => Position::Name {
            desc,
            name: last.name.clone(),
            id: last.id,
        },
        ProjectSort::Relevance => Position::Relevance {
            desc,
            offset: before + shown,
            list: list_of(query),
        },
    })
}
