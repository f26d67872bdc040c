//! Extraction: what a request tells about its caller (the bearer credential, the
//! principal behind it, the org an access guard admitted it to) and about its client (IP,
//! user agent, device, request id). Feature modules depend on it; it depends on none.

mod bearer;
mod client;
mod credential;

pub(crate) use bearer::bearer_token;
pub use client::{ClientMeta, RequestInfo};
pub(crate) use credential::credential;
pub use credential::{Authenticated, Bearer, OrgCtx};
