//! The statements both backends share (ADR 0001), as ordinary Rust. This directory is not
//! part of the store crate: each backend crate mounts it with `#[path]` and compiles it
//! for its own database type, `crate::dialect::Db`. Everything that differs between the
//! dialects comes from `crate::dialect`; nothing here names a backend.

pub(crate) mod identity;
pub(crate) mod org;
pub(crate) mod platform;
mod stores;

/// A connection of this backend, inside a transaction or not.
pub(crate) type Conn = <crate::dialect::Db as sqlx::Database>::Connection;
