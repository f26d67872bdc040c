//! An instance-wide setting: a small JSON value under a dotted key (`jwt.active_kid`, …).

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}
