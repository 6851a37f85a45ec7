//! Fair use, per instance: each token subject may make `RATE_LIMIT_PER_MINUTE`
//! requests a minute with bursts of `RATE_LIMIT_BURST` (governor's GCRA,
//! keyed by user), and each client address at most
//! `RATE_LIMIT_FAILURES_PER_MINUTE` requests that fail authentication.
//!
//! Authenticated responses carry `RateLimit-Policy` and `RateLimit` in the
//! syntax of draft-ietf-httpapi-ratelimit-headers-10; beyond the limit the
//! answer is a 429 problem with `Retry-After`, rounded up so that it never
//! points earlier than the limiter allows.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DashMapStateStore,
};
use poem::http::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::UserId;

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// The limits as configured; `None` turns one off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// Requests a minute per user, and the burst.
    pub per_user: Option<(NonZeroU32, NonZeroU32)>,
    /// Failed authentications a minute per client address.
    pub failures_per_address: Option<NonZeroU32>,
}

/// The limiters of one instance; shared by every request.
pub struct RateLimits {
    per_user: Option<(Keyed<UserId>, HeaderValue)>,
    failures: Option<Keyed<IpAddr>>,
    clock: DefaultClock,
}

/// What a request's user may still do, for its `RateLimit` header.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    /// Requests that may follow at once.
    pub remaining: u32,
    /// Seconds until the full burst is available again.
    pub reset_secs: u64,
}

/// Where the checker leaves a request's allowance for the response's headers
/// (put in the request by `app.rs`; absent on the MCP tools' in-process REST
/// requests, which their `/mcp` request already paid for).
#[derive(Clone, Default)]
pub struct AllowanceSlot(Arc<OnceLock<Allowance>>);

impl AllowanceSlot {
    pub fn get(&self) -> Option<Allowance> {
        self.0.get().copied()
    }
}

/// The headers of draft-ietf-httpapi-ratelimit-headers, named once (not
/// parsed from text on every response).
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const LIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Seconds, rounded up: a wait of 1.2 s is 2, never 1.
fn whole_secs_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings) -> Self {
        let per_user = settings.per_user.map(|(per_minute, burst)| {
            let quota = Quota::per_minute(per_minute).allow_burst(burst);
            let policy = format!("\"per-user\";q={per_minute};w=60");
            (
                RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
                HeaderValue::from_str(&policy).expect("ASCII"),
            )
        });
        let failures = settings.failures_per_address.map(|per_minute| {
            RateLimiter::dashmap(Quota::per_minute(per_minute))
                .with_middleware::<StateInformationMiddleware>()
        });
        Self {
            per_user,
            failures,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request of `user`'s allowance: `Ok` with what is left (and
    /// leaves it in `slot` for the headers), or `Err` with the seconds to
    /// wait. Always `Ok` when the limit is off.
    pub fn check_user(&self, user: &UserId, slot: Option<&AllowanceSlot>) -> Result<(), u64> {
        let Some((limiter, _)) = &self.per_user else {
            return Ok(());
        };
        match limiter.check_key(user) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let remaining = snapshot.remaining_burst_capacity();
                let used = quota.burst_size().get().saturating_sub(remaining);
                let reset = quota.replenish_interval() * used;
                if let Some(slot) = slot {
                    let _ = slot.0.set(Allowance {
                        remaining,
                        reset_secs: whole_secs_up(reset),
                    });
                }
                Ok(())
            }
            Err(not_until) => {
                let wait = whole_secs_up(not_until.wait_time_from(self.clock.now())).max(1);
                if let Some(slot) = slot {
                    let _ = slot.0.set(Allowance {
                        remaining: 0,
                        reset_secs: wait,
                    });
                }
                Err(wait)
            }
        }
    }

    /// Counts a failed authentication from `address`: `Err` with the seconds
    /// to wait once the address has failed too often.
    pub fn check_failure(&self, address: IpAddr) -> Result<(), u64> {
        match self
            .failures
            .as_ref()
            .map(|limiter| limiter.check_key(&address))
        {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(not_until)) => {
                Err(whole_secs_up(not_until.wait_time_from(self.clock.now())).max(1))
            }
        }
    }

    /// The headers of an authenticated response (429s included).
    pub fn add_headers(&self, headers: &mut HeaderMap, allowance: Option<Allowance>) {
        let Some((_, policy)) = &self.per_user else {
            return;
        };
        headers.insert(POLICY, policy.clone());
        let (remaining, reset) = allowance.map_or((0, 0), |a| (a.remaining, a.reset_secs));
        // `"per-user";r={remaining};t={reset}` without formatting machinery,
        // which cost as much as the rest; one allocation, handed to the value.
        let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
        let value = [
            b"\"per-user\";r=".as_slice(),
            r.format(remaining).as_bytes(),
            b";t=",
            t.format(reset).as_bytes(),
        ]
        .concat();
        headers.insert(
            LIMIT,
            HeaderValue::from_maybe_shared(Bytes::from(value)).expect("visible ASCII"),
        );
    }

    /// Forgets the users and addresses whose allowance is whole again: what
    /// keeps the limiters' memory bounded by recent activity. Runs every
    /// minute (`server::spawn_rate_limit_cleanup`).
    pub fn forget_idle(&self) {
        if let Some((limiter, _)) = &self.per_user {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.failures {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Users and addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.per_user.as_ref().map_or(0, |(l, _)| l.len())
            + self.failures.as_ref().map_or(0, Keyed::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits::new(RateLimitSettings {
            per_user: Some((
                NonZeroU32::new(per_minute).unwrap(),
                NonZeroU32::new(burst).unwrap(),
            )),
            failures_per_address: NonZeroU32::new(1),
        })
    }

    #[test]
    fn a_hundred_thousand_callers_are_forgotten_once_their_allowance_is_whole() {
        // 600 000 a minute: one request is replenished in 100 µs.
        let limits = limits(600_000, 10);
        for n in 0..100_000 {
            let user = UserId::new(format!("user-{n}"));
            assert!(limits.check_user(&user, None).is_ok());
        }
        assert_eq!(limits.tracked(), 100_000);
        std::thread::sleep(Duration::from_millis(20));
        limits.forget_idle();
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_a_second() {
        assert_eq!(whole_secs_up(Duration::from_millis(1_200)), 2);
        assert_eq!(whole_secs_up(Duration::from_secs(3)), 3);
        let limits = limits(60, 1);
        let user = UserId::new("u");
        let slot = AllowanceSlot::default();
        assert!(limits.check_user(&user, Some(&slot)).is_ok());
        assert_eq!(slot.get().unwrap().remaining, 0);
        assert_eq!(limits.check_user(&user, None), Err(1));
    }
}
