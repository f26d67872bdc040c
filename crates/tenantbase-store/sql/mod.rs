//! The statements both backends share (ADR 0001), as ordinary Rust. This directory is not
//! part of the store crate: each backend crate mounts it with `#[path]` and compiles it
//! for its own database type, `crate::dialect::Db`. Everything that differs between the
//! dialects comes from `crate::dialect`; nothing here names a backend.

pub(crate) mod identity;
pub(crate) mod org;
pub(crate) mod platform;
mod stores;

/// The span of one unit of work, from its BEGIN (or checkout) to its commit or rollback:
/// a child of whatever the caller is in (a request, a job). It names the kind of unit
/// only: statements and their values stay out of traces.
pub(crate) fn unit_span(unit: &'static str) -> tracing::Span {
    tracing::info_span!(
        "db.unit",
        otel.name = %format_args!("db {unit}"),
        otel.kind = "client",
        db.system.name = crate::dialect::DB_SYSTEM,
        db.unit = unit,
    )
}

/// A connection of this backend, inside a transaction or not.
pub(crate) type Conn = <crate::dialect::Db as sqlx::Database>::Connection;
