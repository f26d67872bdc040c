//! The audit log over the event store: sealing recorded events into the hash chains,
//! verifying them, exporting events, and archiving old events to object storage without
//! breaking the chain.

pub mod archive;
pub mod export;
pub mod seal;
pub mod verify;
