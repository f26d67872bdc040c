//! When a failed job runs again: exponential in the attempt number, capped, with jitter
//! so jobs that failed together (an SMTP outage) do not all retry in the same instant.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// No delay exceeds this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1-based): `base·2^(attempt−1)`, capped at
    /// `max`, then scaled by a random factor in [0.5, 1.0).
    pub fn delay(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self.base.saturating_mul(1 << exponent).min(self.max);
        full.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_caps() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_millis(500) && first < Duration::from_secs(1));
            let fourth = backoff.delay(4);
            assert!(fourth >= Duration::from_secs(4) && fourth < Duration::from_secs(8));
            assert!(backoff.delay(40) < Duration::from_secs(60));
            assert!(backoff.delay(40) >= Duration::from_secs(30));
        }
    }
}
