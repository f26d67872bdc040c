//! Domain types of tenantbase: typed, prefixed ids and other values that are parsed once at
//! the edge and trusted inside. No IO and no async live here.

pub mod access;
pub mod email;
pub mod id;
pub mod members;
pub mod model;
pub mod nul;
pub mod page;
pub mod password;
pub mod redact;
pub mod unique_json;

pub use access::{BuiltinRole, Permission, PermissionSet};
pub use email::{Email, EmailError};
pub use id::{EventId, JobId, OrgId, ParseIdError};
pub use password::{Password, PasswordError, PasswordPolicy};
