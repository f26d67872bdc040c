//! The persistence API of tenantbase. Each area has one small trait (`OpsStore`,
//! `SettingsStore`, …); `Store` is all of them together. Two crates implement it, one over
//! SQLite and one over PostgreSQL; the rest of the system only ever sees `Arc<dyn Store>`.

pub mod error;
pub mod identity;
pub mod migrations;
pub mod org;
pub mod platform;
pub mod rows;
pub mod scope;
pub mod transactions;
pub mod unit;

pub use error::StoreError;
pub use identity::{
    AuthRetentionStore, MfaStore, OidcStore, PasskeyStore, ProfileStore, SessionStore,
    SigningKeyStore, UserStore, UserTokenStore,
};
pub use migrations::{MigrationInfo, MigrationReport};
pub use org::{OrgUnit, TenantStore};
pub use platform::{Backend, EventStore, JobStore, OpsStore, PoolStats, SettingsStore};
pub use scope::OrgScope;
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
    + MfaStore
    + OidcStore
    + PasskeyStore
    + AuthRetentionStore
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
        + MfaStore
        + OidcStore
        + PasskeyStore
        + AuthRetentionStore
        + TxStore
        + TenantStore
{
}

/// The result type of every store method.
pub type StoreResult<T> = Result<T, StoreError>;
