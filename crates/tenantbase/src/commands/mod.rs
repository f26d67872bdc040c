//! The subcommands other than `serve`: each opens what it needs, does one thing, prints
//! plain text for an operator.

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod migrate;
pub(crate) mod migrate_data;
pub(crate) mod permissions;
pub(crate) mod worker;
