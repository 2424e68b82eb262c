//! Failed logins, counted per user name *and* client address, so guessing
//! a password is slowed down without letting anyone lock another user out:
//! wrong guesses from one address never delay a login from another.
//!
//! After `FREE_ATTEMPTS` failures in a row, each further attempt from that
//! address for that name waits out a delay that doubles with every failure,
//! up to `MAX_DELAY`. The record is bounded: at `MAX_RECORDS`, the record
//! whose delay ends soonest gives way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures allowed before the first delay.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first delay; each further failure doubles it.
pub const FIRST_DELAY: Duration = Duration::from_secs(30);
pub const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Records kept at most (a few hundred kilobytes).
pub const MAX_RECORDS: usize = 10_000;

/// Who tries: the user name and the client's address (`None` when the
/// server cannot tell it, as in tests that call the router directly).
pub type Attempt = (String, Option<IpAddr>);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When the next attempt may be checked.
    fn open_at(&self) -> Instant {
        if self.count < FREE_ATTEMPTS {
            return self.last;
        }
        let doublings = (self.count - FREE_ATTEMPTS).min(16);
        self.last + (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: HashMap<Attempt, Failures>,
}

impl LoginThrottle {
    /// How long `attempt` must still wait, if it must.
    pub fn wait(&self, attempt: &Attempt, now: Instant) -> Option<Duration> {
        let open_at = self.failures.get(attempt)?.open_at();
        (open_at > now).then(|| open_at - now)
    }

    pub fn failed(&mut self, attempt: Attempt, now: Instant) {
        if !self.failures.contains_key(&attempt) && self.failures.len() >= MAX_RECORDS {
            self.make_room(now);
        }
        let failures = self.failures.entry(attempt).or_insert(Failures {
            count: 0,
            last: now,
        });
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
    }

    pub fn succeeded(&mut self, attempt: &Attempt) {
        self.failures.remove(attempt);
    }

    /// Drops every record whose delay has ended and that no longer counts
    /// towards one (older than the longest delay); if none is, the one whose
    /// delay ends soonest.
    fn make_room(&mut self, now: Instant) {
        self.failures
            .retain(|_, f| f.open_at() > now || now.duration_since(f.last) < MAX_DELAY);
        if self.failures.len() >= MAX_RECORDS
            && let Some(soonest) = self
                .failures
                .iter()
                .min_by_key(|(_, f)| f.open_at())
                .map(|(attempt, _)| attempt.clone())
        {
            self.failures.remove(&soonest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(name: &str, address: [u8; 4]) -> Attempt {
        (name.to_owned(), Some(IpAddr::from(address)))
    }

    #[test]
    fn failures_from_one_address_never_delay_another() {
        let mut throttle = LoginThrottle::default();
        let now = Instant::now();
        let guesser = attempt("intermediary", [203, 0, 113, 9]);
        for _ in 0..FREE_ATTEMPTS {
            assert_eq!(throttle.wait(&guesser, now), None);
            throttle.failed(guesser.clone(), now);
        }
        assert_eq!(throttle.wait(&guesser, now), Some(FIRST_DELAY));
        assert_eq!(
            throttle.wait(&attempt("intermediary", [10, 0, 0, 1]), now),
            None
        );
        assert_eq!(throttle.wait(&attempt("ua", [203, 0, 113, 9]), now), None);
    }

    #[test]
    fn the_delay_doubles_with_each_failure_up_to_the_cap() {
        let mut throttle = LoginThrottle::default();
        let guesser = attempt("ua", [203, 0, 113, 9]);
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..FREE_ATTEMPTS + 10 {
            if let Some(wait) = throttle.wait(&guesser, now) {
                delays.push(wait);
                now += wait;
            }
            throttle.failed(guesser.clone(), now);
        }
        delays.push(throttle.wait(&guesser, now).unwrap());
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert_eq!(delays[2], FIRST_DELAY * 4);
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
        throttle.succeeded(&guesser);
        assert_eq!(throttle.wait(&guesser, now), None);
    }

    #[test]
    fn the_record_stays_bounded_and_keeps_the_longest_delays() {
        let mut throttle = LoginThrottle::default();
        let now = Instant::now();
        let locked = attempt("intermediary", [203, 0, 113, 9]);
        for _ in 0..FREE_ATTEMPTS + 3 {
            throttle.failed(locked.clone(), now);
        }
        for i in 0..MAX_RECORDS as u32 + 500 {
            let address = IpAddr::from(i.to_be_bytes());
            throttle.failed((format!("user{}", i % 7), Some(address)), now);
        }
        assert!(throttle.failures.len() <= MAX_RECORDS);
        assert!(
            throttle.wait(&locked, now).is_some(),
            "a long lock survives a flood"
        );
    }
}
