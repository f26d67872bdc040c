//! Domain types of tenantbase: typed, prefixed ids and other values that are parsed once at
//! the edge and trusted inside. No IO and no async live here.

pub mod id;
pub mod redact;

pub use id::{EventId, JobId, OrgId, ParseIdError};
