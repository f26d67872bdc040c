//! `OrgScope`: the proof, checked by the type system, that a query of org-owned data is
//! confined to one org.

use tenantbase_domain::OrgId;

/// The org that a unit of work on org-owned data is confined to. Every store method on
/// org-owned rows takes `&OrgScope` first and filters by it; on PostgreSQL the same id
/// also drives row-level security (`app.org_id`). There is no way to call such a method
/// without one, so an unscoped query of org data does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgScope {
    org_id: OrgId,
}

impl OrgScope {
    /// Only the access layer may call this, after it has checked the principal's
    /// membership and permission in `org_id`.
    pub fn for_checked_org(org_id: OrgId) -> Self {
        Self { org_id }
    }

    pub fn org_id(&self) -> OrgId {
        self.org_id
    }
}
