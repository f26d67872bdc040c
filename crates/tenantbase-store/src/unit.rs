//! Units of work: one transaction in which a change, its event and its follow-up jobs are
//! written together — all of them or none. A platform unit is the sum of each platform
//! and identity resource's part, as `Store` is the sum of its areas.

use async_trait::async_trait;

use crate::StoreResult;
use crate::identity::{
    MfaUnit, OidcUnit, PasskeysUnit, SessionsUnit, SigningKeysUnit, UserTokensUnit, UsersUnit,
};
use crate::platform::events::NewEvent;
use crate::platform::{EventsUnit, JobsUnit};

/// An open transaction. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait UnitOfWork:
    EventsUnit
    + JobsUnit
    + UsersUnit
    + SessionsUnit
    + UserTokensUnit
    + SigningKeysUnit
    + MfaUnit
    + OidcUnit
    + PasskeysUnit
    + Send
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Records `events`, in order, in one statement (a change's events cost one round
    /// trip, not one each) and commits, sending the `COMMIT` with their insert where the
    /// backend can.
    async fn commit_with_events(self: Box<Self>, events: Vec<NewEvent>) -> StoreResult<()>;
}

#[async_trait]
pub trait TxStore: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>>;
}
