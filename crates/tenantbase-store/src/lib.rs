//! The persistence API of tenantbase. Each area has one small trait (`OpsStore`,
//! `SettingsStore`, …); `Store` is all of them together. Two crates implement it, one over
//! SQLite and one over PostgreSQL; the rest of the system only ever sees `Arc<dyn Store>`.

pub mod error;
pub mod files;
pub mod identity;
pub mod migrations;
pub mod platform;
pub mod scope;
pub mod shared_access;
pub mod shared_creators;
pub mod shared_files;
pub mod shared_projects;
pub mod shared_tenant;
pub mod tenant;
pub mod tenant_rows;
pub mod transactions;
pub mod unit;

pub use error::StoreError;
pub use files::FileUnit;
pub use identity::{ProfileStore, SessionStore, SigningKeyStore, UserStore, UserTokenStore};
pub use migrations::{MigrationInfo, MigrationReport};
pub use platform::{Backend, EventStore, JobStore, OpsStore, PoolStats, SettingsStore};
pub use scope::OrgScope;
pub use tenant::{OrgUnit, TenantStore};
pub use unit::{TxStore, UnitOfWork};

/// Everything a backend provides. Implemented automatically for any type with every area.
pub trait Store:
    OpsStore
    + SettingsStore
    + EventStore
    + JobStore
    + UserStore
    + SessionStore
    + UserTokenStore
    + SigningKeyStore
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
        + UserStore
        + SessionStore
        + UserTokenStore
        + SigningKeyStore
        + ProfileStore
        + TxStore
        + TenantStore
{
}

/// The result type of every store method.
pub type StoreResult<T> = Result<T, StoreError>;
