//! How fast invitation emails may go out: a budget per inviter and one per org, each
//! refilling over an hour (GCRA via `governor`). They stop a free account from turning
//! the product's mail domain into a spam relay, one org or many orgs at a time.
//!
//! The budgets live in this process, like the auth routes' per-IP budget: with several
//! replicas behind a balancer a sender gets at most the budget of each replica.

use std::num::NonZeroU32;
use std::sync::RwLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;

/// Keys kept before idle ones (whose budget is full again) are swept out.
const SWEEP_ABOVE: usize = 100_000;

/// The two budgets; a config reload replaces them (`set`), hence the lock, held for one
/// check and never across an await.
pub(super) struct InvitationLimits(RwLock<Budgets>);

struct Budgets {
    per_inviter: DefaultKeyedRateLimiter<UserId>,
    per_org: DefaultKeyedRateLimiter<OrgId>,
}

fn hourly(limit: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN))
}

impl Budgets {
    fn new(per_inviter_per_hour: u32, per_org_per_hour: u32) -> Self {
        Self {
            per_inviter: RateLimiter::keyed(hourly(per_inviter_per_hour)),
            per_org: RateLimiter::keyed(hourly(per_org_per_hour)),
        }
    }
}

impl InvitationLimits {
    pub(super) fn new(per_inviter_per_hour: u32, per_org_per_hour: u32) -> Self {
        Self(RwLock::new(Budgets::new(
            per_inviter_per_hour,
            per_org_per_hour,
        )))
    }

    /// New limits from now on, every inviter and org starting on a full budget.
    pub(super) fn set(&self, per_inviter_per_hour: u32, per_org_per_hour: u32) {
        let budgets = Budgets::new(per_inviter_per_hour, per_org_per_hour);
        match self.0.write() {
            Ok(mut current) => *current = budgets,
            Err(poisoned) => *poisoned.into_inner() = budgets,
        }
    }

    /// Spends one invitation of `inviter`'s and of `org`'s budget, or `Err(wait)` until
    /// both have one again. A refusal by the org's budget still costs the inviter one:
    /// hammering a full org is itself something to slow down.
    pub(super) fn spend(&self, inviter: UserId, org: OrgId) -> Result<(), Duration> {
        let budgets = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if budgets.per_inviter.len() > SWEEP_ABOVE {
            budgets.per_inviter.retain_recent();
        }
        if budgets.per_org.len() > SWEEP_ABOVE {
            budgets.per_org.retain_recent();
        }
        let now = DefaultClock::default().now();
        budgets
            .per_inviter
            .check_key(&inviter)
            .and_then(|()| budgets.per_org.check_key(&org))
            .map_err(|not_until| not_until.wait_time_from(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_inviter_and_each_org_has_its_own_budget() {
        let limits = InvitationLimits::new(2, 3);
        let (ada, bob) = (UserId::new(), UserId::new());
        let (one, two) = (OrgId::new(), OrgId::new());
        assert!(limits.spend(ada, one).is_ok());
        assert!(limits.spend(ada, two).is_ok());
        // Ada's budget is spent across orgs; the wait is most of an hour's share.
        let wait = limits.spend(ada, two).expect_err("inviter limit");
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(1800),
            "{wait:?}"
        );
        // Bob can still invite to org one, until the org's budget of 3 is spent.
        assert!(limits.spend(bob, one).is_ok());
        assert!(limits.spend(UserId::new(), one).is_ok());
        assert!(limits.spend(UserId::new(), one).is_err(), "org limit");
        limits.set(2, 5);
        assert!(
            limits.spend(ada, two).is_ok(),
            "new limits start on a full budget"
        );
        assert!(limits.spend(UserId::new(), one).is_ok());
    }
}
