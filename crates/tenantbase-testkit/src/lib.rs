//! Test helpers shared by the store and API suites: a fresh PostgreSQL database per test
//! on a real server, throwaway clusters that a test can stop, start and freeze, S3 and
//! Azure Blob emulators, an OpenID provider and an OTLP trace receiver — all on loopback.

pub mod cluster;
pub mod emulators;
pub mod oidc_provider;
pub mod otlp_receiver;
pub mod postgres;

pub use cluster::PgCluster;
pub use postgres::{TestDatabase, fresh_database};
