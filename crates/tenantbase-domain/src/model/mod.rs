//! The entities the store reads and writes and the rest of the system works with: plain
//! data, so that crates above the store can use them without depending on it.

pub mod file;
pub mod org;
pub mod project;

pub use file::{FileUpload, StoredFile};
pub use org::{ApiKey, Invitation, Member, Membership, Org, Role, Team};
pub use project::Project;
