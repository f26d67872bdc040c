//! A project: the first org-owned resource, with free-form JSON metadata.

use chrono::{DateTime, Utc};

use crate::id::{ProjectId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    /// A JSON object.
    pub metadata: serde_json::Value,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}
