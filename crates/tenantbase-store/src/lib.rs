//! The persistence API of tenantbase. Each area has one small trait (`OpsStore`,
//! `SettingsStore`, …); `Store` is all of them together. Two crates implement it, one over
//! SQLite and one over PostgreSQL; the rest of the system only ever sees `Arc<dyn Store>`.

pub mod areas;
pub mod error;
pub mod events;
pub mod files;
pub mod identity;
pub mod jobs;
pub mod migrations;
pub mod ops;
pub mod org;
pub mod rows;
pub mod scope;
pub mod settings;
pub mod shared;
pub mod shared_files;
pub mod shared_identity;
pub mod sql;
pub mod transactions;
pub mod unit;

pub use error::StoreError;
pub use events::EventStore;
pub use files::ProfileStore;
pub use identity::IdentityStore;
pub use jobs::JobStore;
pub use migrations::{MigrationInfo, MigrationReport};
pub use ops::{Backend, OpsStore, PoolStats};
pub use org::{OrgUnit, TenantStore};
pub use scope::OrgScope;
pub use settings::{Setting, SettingsStore};
pub use unit::{TxStore, UnitOfWork};

/// Everything a backend provides. Implemented automatically for any type with every area.
pub trait Store:
    OpsStore
    + SettingsStore
    + EventStore
    + JobStore
    + IdentityStore
    + ProfileStore
    + TxStore
    + TenantStore
{
}

impl<T> Store for T where
    T: OpsStore
        + SettingsStore
        + EventStore
        + JobStore
        + IdentityStore
        + ProfileStore
        + TxStore
        + TenantStore
{
}

/// The result type of every store method.
pub type StoreResult<T> = Result<T, StoreError>;
