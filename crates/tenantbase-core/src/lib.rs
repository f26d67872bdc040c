//! The use cases of tenantbase, shared by the HTTP API and the command line. They speak
//! to the store, object storage and mail transports through their traits and never see
//! HTTP.

pub mod audit;
mod cache_guard;
mod csv_cells;
pub mod identity;
pub mod jobs;
pub mod mail;
pub mod tenancy;
pub mod write;

/// The store as the layers above core see it: the trait the app state holds and the
/// error every use case may pass on (the HTTP API maps it to problems), so that those
/// layers need not depend on the store crate.
pub use tenantbase_store::{Store, StoreError};
