//! Brute-force protection for sign-in, and a per-IP request budget for every auth route.
//!
//! Failed logins count per client IP and per account. Past a threshold each further
//! failure doubles the wait before the next attempt, up to a cap; failures are forgotten
//! after a quiet period and a success clears the account's count. The per-IP threshold is
//! lower than the per-account one, so a single attacker is slowed down long before the
//! account is: a victim signing in from elsewhere is only delayed when many addresses
//! attack the same account, and then for at most the cap.
//!
//! The counters live in this process. With several replicas each keeps its own, so the
//! effective limits scale with the replica count until they move to Redis.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures from one IP before its attempts are delayed.
    pub ip_failures: u32,
    /// Failures on one account before its attempts are delayed.
    pub account_failures: u32,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub forget_after: Duration,
    /// Requests one IP may make to the auth routes per minute (with the same burst).
    pub requests_per_minute: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            ip_failures: 5,
            account_failures: 10,
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(3600),
            requests_per_minute: 120,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(String),
    Account(String),
}

/// Entries kept before forgotten ones are swept out.
const SWEEP_ABOVE: usize = 100_000;

pub struct Throttle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<Key, Failures>>,
    requests: DefaultKeyedRateLimiter<IpAddr>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        let per_minute = NonZeroU32::new(policy.requests_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            policy,
            failures: Mutex::new(HashMap::new()),
            requests: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Spends one request of `ip`'s budget; `Err(wait)` when it is used up.
    pub fn check_request(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let Some(ip) = ip else { return Ok(()) };
        if self.requests.len() > SWEEP_ABOVE {
            self.requests.retain_recent();
        }
        self.requests
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// `Err(wait)` while either the IP or the account must wait before another attempt.
    pub fn check_login(&self, ip: Option<&str>, account: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(failures) = self.failures.lock() else {
            return Ok(());
        };
        let waits = [
            ip.and_then(|ip| {
                self.wait(
                    &failures,
                    &Key::Ip(ip.to_owned()),
                    self.policy.ip_failures,
                    now,
                )
            }),
            self.wait(
                &failures,
                &Key::Account(account.to_owned()),
                self.policy.account_failures,
                now,
            ),
        ];
        match waits.into_iter().flatten().max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, ip: Option<&str>, account: &str) {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() > SWEEP_ABOVE {
            let forget_after = self.policy.forget_after;
            failures.retain(|_, f| now.duration_since(f.last) < forget_after);
        }
        let keys = ip
            .map(|ip| Key::Ip(ip.to_owned()))
            .into_iter()
            .chain([Key::Account(account.to_owned())]);
        for key in keys {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= self.policy.forget_after {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// A correct password: the account starts over (the IP's count still decays).
    pub fn record_success(&self, account: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&Key::Account(account.to_owned()));
        }
    }

    fn wait(
        &self,
        failures: &HashMap<Key, Failures>,
        key: &Key,
        threshold: u32,
        now: Instant,
    ) -> Option<Duration> {
        let entry = failures.get(key)?;
        let since = now.duration_since(entry.last);
        if entry.count < threshold || since >= self.policy.forget_after {
            return None;
        }
        let doublings = (entry.count - threshold).min(20);
        let delay = Duration::from_secs(1u64 << doublings).min(self.policy.max_delay);
        delay.checked_sub(since).filter(|wait| !wait.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            ip_failures: 3,
            account_failures: 5,
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(3600),
            requests_per_minute: 3,
        }
    }

    #[test]
    fn an_ip_is_slowed_before_the_account() {
        let throttle = Throttle::new(policy());
        for _ in 0..3 {
            assert!(throttle.check_login(Some("1.1.1.1"), "victim").is_ok());
            throttle.record_failure(Some("1.1.1.1"), "victim");
        }
        let wait = throttle
            .check_login(Some("1.1.1.1"), "victim")
            .expect_err("the IP waits");
        assert!(wait <= Duration::from_secs(1));
        assert!(
            throttle.check_login(Some("2.2.2.2"), "victim").is_ok(),
            "the owner elsewhere is not"
        );
    }

    #[test]
    fn the_account_waits_when_many_ips_fail_and_the_wait_is_capped() {
        let throttle = Throttle::new(policy());
        for i in 0..30 {
            throttle.record_failure(Some(&format!("10.0.0.{i}")), "victim");
        }
        let wait = throttle
            .check_login(Some("2.2.2.2"), "victim")
            .expect_err("the account waits");
        assert!(wait <= Duration::from_secs(60), "capped: {wait:?}");
        throttle.record_success("victim");
        assert!(throttle.check_login(Some("2.2.2.2"), "victim").is_ok());
    }

    #[test]
    fn waits_grow_exponentially() {
        let throttle = Throttle::new(policy());
        for _ in 0..8 {
            throttle.record_failure(None, "acct");
        }
        let wait = throttle.check_login(None, "acct").expect_err("waits");
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(8),
            "{wait:?}"
        );
    }

    #[test]
    fn requests_per_ip_are_budgeted() {
        let throttle = Throttle::new(policy());
        let ip: IpAddr = "127.0.0.9".parse().expect("ip");
        for _ in 0..3 {
            assert!(throttle.check_request(Some(ip)).is_ok());
        }
        assert!(throttle.check_request(Some(ip)).is_err());
        assert!(
            throttle
                .check_request(Some("127.0.0.8".parse().expect("ip")))
                .is_ok()
        );
        assert!(
            throttle.check_request(None).is_ok(),
            "no address, no budget (in-process calls)"
        );
    }
}
