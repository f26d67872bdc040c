//! Test helpers shared by the store and API suites: a fresh PostgreSQL database per test
//! on a real server, and throwaway clusters that a test can stop, start and freeze.

pub mod cluster;
pub mod postgres;

pub use cluster::PgCluster;
pub use postgres::{TestDatabase, fresh_database};
