//! `OrgTx`, the backend's `OrgUnit`: a transaction (or, for SQLite reads, a pooled
//! connection) and the org it is confined to. Its resource traits are implemented beside
//! their statements.

use async_trait::async_trait;
use tenantbase_domain::id::UserId;
use tenantbase_store::org::OrgUnit;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{OrgScope, StoreError, StoreResult};
use uuid::Uuid;

use super::Conn;
use crate::dialect::{self, Db, WriteTx};
use crate::sql::platform::events::append_events_and_commit;

/// What an org unit runs its statements on: a write transaction, or — for reads — a pooled
/// connection, which saves the BEGIN and ROLLBACK round trips (on PostgreSQL each
/// statement carries the org's setting instead: `dialect::pooled_org_read`).
pub(super) enum Handle {
    Tx(WriteTx),
    Pooled(PooledRead),
}

/// A pooled connection lent to one read outside a transaction (an org read unit, a user's
/// memberships), handed back clean: what the dialect set on it for the read is cleared
/// when the read ends, however it ends.
pub(crate) struct PooledRead(sqlx::pool::PoolConnection<Db>);

impl PooledRead {
    /// For the reads of `user`'s memberships across orgs.
    pub(crate) fn for_user(mut conn: sqlx::pool::PoolConnection<Db>, user: UserId) -> Self {
        dialect::pooled_user_read(&mut conn, user);
        Self(conn)
    }
}

impl std::ops::Deref for PooledRead {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl std::ops::DerefMut for PooledRead {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

impl Drop for PooledRead {
    fn drop(&mut self) {
        dialect::end_pooled_read(&mut self.0);
    }
}

impl std::ops::Deref for Handle {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        match self {
            Handle::Tx(tx) => tx,
            Handle::Pooled(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Handle {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            Handle::Tx(tx) => tx,
            Handle::Pooled(conn) => conn,
        }
    }
}

/// A unit of work confined to one org.
pub(crate) struct OrgTx {
    pub(super) tx: Handle,
    pub(super) scope: OrgScope,
    /// Open while the unit is: its trace span ends when the unit commits or is dropped.
    _span: tracing::Span,
}

impl OrgTx {
    pub(crate) fn new(tx: WriteTx, scope: OrgScope) -> Self {
        Self {
            tx: Handle::Tx(tx),
            scope,
            _span: crate::sql::unit_span("org"),
        }
    }

    /// Statements run one by one on `conn`, each seeing the latest commit.
    pub(crate) fn pooled(mut conn: sqlx::pool::PoolConnection<Db>, scope: OrgScope) -> Self {
        dialect::pooled_org_read(&mut conn, scope);
        Self {
            tx: Handle::Pooled(PooledRead(conn)),
            scope,
            _span: crate::sql::unit_span("org read"),
        }
    }

    pub(super) fn org_id(&self) -> Uuid {
        self.scope.org_id().as_uuid()
    }
}

#[async_trait]
impl OrgUnit for OrgTx {
    fn scope(&self) -> OrgScope {
        self.scope
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.tx {
            Handle::Tx(tx) => Ok(tx.commit().await?),
            Handle::Pooled(_) => Ok(()),
        }
    }

    async fn commit_with_events(self: Box<Self>, events: Vec<NewEvent>) -> StoreResult<()> {
        for event in &events {
            self.check_own(event)?;
        }
        match self.tx {
            Handle::Tx(tx) => append_events_and_commit(tx, events).await,
            Handle::Pooled(_) => Err(StoreError::Invalid(
                "a read unit records no events".to_owned(),
            )),
        }
    }
}
