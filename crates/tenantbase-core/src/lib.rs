//! The use cases of tenantbase, shared by the HTTP API and the command line. They speak
//! to the store, object storage and mail transports through their traits and never see
//! HTTP.

pub mod audit;
pub mod identity;
pub mod jobs;
pub mod mail;
pub mod tenancy;
pub mod write;
