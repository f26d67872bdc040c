//! Brute-force protection for sign-in, and a per-IP request budget for every auth route.
//!
//! Sign-in attempts count per client network and per account; a success takes its
//! attempt back. Past a threshold each further attempt doubles the wait before the next,
//! up to a cap, and attempts are forgotten after a quiet period. The per-IP threshold is
//! lower than the per-account one, so a single attacker is slowed down long before the
//! account is: a victim signing in from elsewhere is only delayed when many addresses
//! attack the same account, and then for at most the cap — or, since one patient attacker
//! who waits out each delay can renew the account's, for as long as they keep at it: so a
//! device that holds a live session of the account (it sent the same `X-Device-Id` when it
//! signed in) is held back only by its own client's failures. Attempts are counted when they
//! start, under the lock that checks them, so a burst of parallel guesses cannot all
//! slip in before the first is recorded. IPv6 clients count per /64.
//!
//! The counters live in this process. With several replicas each keeps its own, so the
//! effective limits scale with the replica count until they move to Redis.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failed attempts from one client network before its attempts are delayed.
    pub ip_failures: u32,
    /// Failed attempts on one account before its attempts are delayed.
    pub account_failures: u32,
    /// The longest delay.
    pub max_delay: Duration,
    /// Attempts older than this are forgotten.
    pub forget_after: Duration,
    /// Requests one client network may make to the auth routes per minute (same burst).
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
struct Attempts {
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

/// The policy can change while the process runs (a config reload), hence the locks; they
/// are held for a copy or one rate-limiter check, never across an await.
pub struct Throttle {
    policy: RwLock<ThrottlePolicy>,
    attempts: Mutex<HashMap<Key, Attempts>>,
    requests: RwLock<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy: RwLock::new(policy),
            attempts: Mutex::new(HashMap::new()),
            requests: RwLock::new(request_limiter(policy.requests_per_minute)),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> ThrottlePolicy {
        *self.policy.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a new policy from now on. Counted sign-in attempts are kept (the new
    /// thresholds apply to them); a new request rate starts every network on a full budget.
    pub fn set_policy(&self, policy: ThrottlePolicy) {
        let old = self.policy();
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy;
        if old.requests_per_minute != policy.requests_per_minute {
            *self
                .requests
                .write()
                .unwrap_or_else(PoisonError::into_inner) =
                request_limiter(policy.requests_per_minute);
        }
    }

    /// Spends one request of the client network's budget; `Err(wait)` when it is used up.
    pub fn check_request(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let Some(network) = ip.map(network_of) else {
            return Ok(());
        };
        // A panic elsewhere while holding the lock must not turn the limit off.
        let requests = self.requests.read().unwrap_or_else(PoisonError::into_inner);
        if requests.len() > SWEEP_ABOVE {
            requests.retain_recent();
        }
        requests
            .check_key(&network)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Counts a sign-in attempt, or `Err(wait)` while the client or the account must wait.
    pub fn start_attempt(&self, ip: Option<&str>, account: &str) -> Result<(), Duration> {
        self.start_attempt_at(ip, account, Instant::now(), false)
    }

    /// [`Self::start_attempt`] from a device that has signed in to the account before
    /// (OWASP's device cookies): only the client's own failures hold it back, so attackers
    /// elsewhere, who hold the account, cannot lock its owner out with it. It still counts
    /// on the account.
    pub fn start_attempt_from_known_device(
        &self,
        ip: Option<&str>,
        account: &str,
    ) -> Result<(), Duration> {
        self.start_attempt_at(ip, account, Instant::now(), true)
    }

    /// [`Self::start_attempt`] at a given time, so tests can walk the delays without waiting;
    /// `known_device` skips the account's hold.
    fn start_attempt_at(
        &self,
        ip: Option<&str>,
        account: &str,
        now: Instant,
        known_device: bool,
    ) -> Result<(), Duration> {
        let policy = self.policy();
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let ip = ip.map(|ip| Key::Ip(ip_key(ip)));
        let account = Key::Account(account.to_owned());
        let waits = [
            ip.as_ref()
                .and_then(|key| wait(&policy, &attempts, key, policy.ip_failures, now)),
            (!known_device)
                .then(|| wait(&policy, &attempts, &account, policy.account_failures, now))
                .flatten(),
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(wait);
        }
        if attempts.len() > SWEEP_ABOVE {
            let forget_after = policy.forget_after;
            attempts.retain(|_, a| now.duration_since(a.last) < forget_after);
        }
        for key in ip.into_iter().chain([account]) {
            let entry = attempts.entry(key).or_insert(Attempts {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= policy.forget_after {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
        Ok(())
    }

    /// The attempt was right: the account starts over and the client takes it back.
    pub fn record_success(&self, ip: Option<&str>, account: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        attempts.remove(&Key::Account(account.to_owned()));
        if let Some(entry) = ip.and_then(|ip| attempts.get_mut(&Key::Ip(ip_key(ip)))) {
            entry.count = entry.count.saturating_sub(1);
        }
    }
}

/// How long `key` must still wait under `policy`, if at all.
fn wait(
    policy: &ThrottlePolicy,
    attempts: &HashMap<Key, Attempts>,
    key: &Key,
    threshold: u32,
    now: Instant,
) -> Option<Duration> {
    let entry = attempts.get(key)?;
    let since = now.duration_since(entry.last);
    if entry.count < threshold || since >= policy.forget_after {
        return None;
    }
    let doublings = (entry.count - threshold).min(20);
    let delay = Duration::from_secs(1u64 << doublings).min(policy.max_delay);
    delay.checked_sub(since).filter(|wait| !wait.is_zero())
}

/// Per-network request budgets: `per_minute` a minute, with the same burst.
fn request_limiter(per_minute: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per_minute))
}

/// IPv6 clients are counted per /64: one subscriber usually holds a whole /64, and
/// counting its 2^64 addresses apart would let it walk around every limit.
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

fn ip_key(ip: &str) -> String {
    ip.parse::<IpAddr>()
        .map_or_else(|_| ip.to_owned(), |ip| network_of(ip).to_string())
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
    fn a_new_policy_applies_at_once() {
        let throttle = Throttle::new(policy());
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            assert!(throttle.check_request(ip).is_ok());
        }
        assert!(throttle.check_request(ip).is_err(), "3 a minute");
        throttle.set_policy(ThrottlePolicy {
            requests_per_minute: 5,
            ip_failures: 1,
            ..policy()
        });
        for _ in 0..5 {
            assert!(throttle.check_request(ip).is_ok(), "a fresh budget of 5");
        }
        assert!(throttle.check_request(ip).is_err());
        assert!(throttle.start_attempt(Some("1.1.1.1"), "a").is_ok());
        assert!(
            throttle.start_attempt(Some("1.1.1.1"), "b").is_err(),
            "the new threshold of 1 failure per IP"
        );
    }

    #[test]
    fn an_ip_is_slowed_before_the_account() {
        let throttle = Throttle::new(policy());
        for _ in 0..3 {
            assert!(throttle.start_attempt(Some("1.1.1.1"), "victim").is_ok());
        }
        let wait = throttle
            .start_attempt(Some("1.1.1.1"), "victim")
            .expect_err("the IP waits");
        assert!(wait <= Duration::from_secs(1));
        assert!(
            throttle.start_attempt(Some("2.2.2.2"), "victim").is_ok(),
            "the owner elsewhere is not"
        );
    }

    #[test]
    fn the_account_waits_when_many_ips_fail() {
        let throttle = Throttle::new(policy());
        for i in 0..5 {
            assert!(
                throttle
                    .start_attempt(Some(&format!("10.0.0.{i}")), "victim")
                    .is_ok()
            );
        }
        let wait = throttle
            .start_attempt(Some("2.2.2.2"), "victim")
            .expect_err("the account waits");
        assert!(wait <= Duration::from_secs(1), "the first delay: {wait:?}");
        throttle.record_success(Some("10.0.0.1"), "victim");
        assert!(throttle.start_attempt(Some("2.2.2.2"), "victim").is_ok());
    }

    #[test]
    fn the_wait_doubles_up_to_the_cap_and_stays_there() {
        let throttle = Throttle::new(ThrottlePolicy {
            max_delay: Duration::from_secs(8),
            ..policy()
        });
        let mut now = Instant::now();
        for i in 0..5 {
            let ip = format!("10.0.0.{i}");
            assert!(
                throttle
                    .start_attempt_at(Some(&ip), "victim", now, false)
                    .is_ok()
            );
        }
        let mut waits = Vec::new();
        for i in 5..11 {
            let ip = format!("10.0.0.{i}");
            let wait = throttle
                .start_attempt_at(Some(&ip), "victim", now, false)
                .expect_err("the account waits");
            waits.push(wait.as_secs());
            now += wait;
            assert!(
                throttle
                    .start_attempt_at(Some(&ip), "victim", now, false)
                    .is_ok(),
                "after the wait, one more guess"
            );
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8], "doubling, then held at the cap");
    }

    #[test]
    fn a_known_device_is_held_by_its_own_failures_not_the_accounts() {
        let throttle = Throttle::new(policy());
        for i in 0..5 {
            assert!(
                throttle
                    .start_attempt(Some(&format!("10.0.1.{i}")), "victim")
                    .is_ok()
            );
        }
        assert!(
            throttle.start_attempt(Some("9.9.9.9"), "victim").is_err(),
            "the account is held"
        );
        assert!(
            throttle
                .start_attempt_from_known_device(Some("9.9.9.9"), "victim")
                .is_ok(),
            "its owner's device is not"
        );
        // Its own failures still hold it: the per-IP limit applies.
        for _ in 0..3 {
            assert!(
                throttle
                    .start_attempt_from_known_device(Some("8.8.8.8"), "victim")
                    .is_ok()
            );
        }
        assert!(
            throttle
                .start_attempt_from_known_device(Some("8.8.8.8"), "victim")
                .is_err()
        );
    }

    #[test]
    fn successes_do_not_count_against_the_ip() {
        let throttle = Throttle::new(policy());
        for i in 0..10 {
            let account = format!("user{i}");
            assert!(
                throttle.start_attempt(Some("3.3.3.3"), &account).is_ok(),
                "a shared address signs in"
            );
            throttle.record_success(Some("3.3.3.3"), &account);
        }
    }

    #[test]
    fn an_ipv6_network_counts_as_one_client() {
        let throttle = Throttle::new(policy());
        for i in 0..3 {
            assert!(
                throttle
                    .start_attempt(Some(&format!("2001:db8::{i:x}")), "victim")
                    .is_ok()
            );
        }
        assert!(
            throttle
                .start_attempt(Some("2001:db8::ffff:1"), "victim")
                .is_err(),
            "same /64"
        );
        assert!(
            throttle
                .start_attempt(Some("2001:db8:0:1::1"), "other")
                .is_ok(),
            "another /64"
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(network_of(ip("2001:db8::1")), network_of(ip("2001:db8::2")));
        assert_eq!(network_of(ip("10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn waits_grow_exponentially_and_attempts_while_waiting_do_not_count() {
        let throttle = Throttle::new(policy());
        let now = Instant::now();
        let key = Key::Account("acct".to_owned());
        let waits: Vec<Duration> = (5..9)
            .map(|count| {
                let attempts = HashMap::from([(key.clone(), Attempts { count, last: now })]);
                wait(&throttle.policy(), &attempts, &key, 5, now).expect("waits")
            })
            .collect();
        assert_eq!(
            waits.iter().map(Duration::as_secs).collect::<Vec<_>>(),
            vec![1, 2, 4, 8]
        );
        for _ in 0..5 {
            let _ = throttle.start_attempt(None, "acct");
        }
        for _ in 0..10 {
            assert!(
                throttle.start_attempt(None, "acct").is_err(),
                "refused attempts are not counted"
            );
        }
        let counted = throttle.attempts.lock().expect("lock")[&key].count;
        assert_eq!(counted, 5);
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
