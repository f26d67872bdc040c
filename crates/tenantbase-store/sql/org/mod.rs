//! The statements on org-owned rows and the unit that runs them, one module per resource
//! as in the store's `org`. Every statement on org-owned rows binds the unit's org as
//! `$1`.

mod api_keys;
mod creators;
mod events;
mod files;
mod invitations;
mod jobs;
mod members;
mod orgs;
mod projects;
mod roles;
mod teams;
mod unit;
mod uploads;

use chrono::{DateTime, SubsecRound, Utc};

use crate::dialect::Db;

pub(crate) use orgs::orgs_of_user;
pub(crate) use unit::{OrgTx, PooledRead};

type Conn = <Db as sqlx::Database>::Connection;

fn now() -> DateTime<Utc> {
    // Microseconds: what both databases keep, so returned values equal re-reads.
    Utc::now().trunc_subsecs(6)
}
