//! The audit log over the event store: verifying the hash chains, exporting events, and
//! archiving old events to object storage without breaking the chain.

pub mod archive;
pub mod export;
pub mod verify;
