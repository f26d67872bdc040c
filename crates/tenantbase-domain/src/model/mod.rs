//! The entities the store keeps and the rest of the system reads: plain data, one module
//! per resource. They live here, not in the store, so that layers above can name them
//! without depending on persistence.

pub mod event;
pub mod file;
pub mod job;
pub mod linked_identity;
pub mod mfa;
pub mod org;
pub mod passkey;
pub mod profile;
pub mod project;
pub mod session;
pub mod setting;
pub mod signing_key;
pub mod user;

pub use event::{Actor, ChainHead, ChainKey, Event, GENESIS_HASH, RequestMeta, Target};
pub use file::{FileUpload, StoredFile};
pub use job::{ClaimedJob, Enqueued, Job, JobClaim, JobState, QueueDepth};
pub use linked_identity::LinkedIdentity;
pub use mfa::{MfaChallenge, MfaFactor, MfaKind, TrustedDevice};
pub use org::{ApiKey, Invitation, Member, Membership, Org, Role, Team};
pub use passkey::PasskeyInfo;
pub use profile::{Avatar, Profile, ProfileVisibility};
pub use project::Project;
pub use session::{Rotation, Session};
pub use setting::Setting;
pub use signing_key::SigningKeyRow;
pub use user::User;
