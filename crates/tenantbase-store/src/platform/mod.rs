//! The platform's resources: the event log and its audit chains, the job queue, instance
//! settings, and operational access to the backend. None of them belongs to one org.

pub mod events;
pub mod jobs;
pub mod ops;
pub mod settings;

pub use events::{EventStore, EventsUnit};
pub use jobs::{JobStore, JobsUnit};
pub use ops::{Backend, OpsStore, PoolStats};
pub use settings::SettingsStore;
