//! The statements both backends share (ADR 0001), as ordinary Rust. Each backend crate
//! mounts this directory as its module `sql` and compiles it for its `dialect::Db`; what
//! the dialects do differently is reached only through `crate::dialect`.

pub(crate) mod org;
