//! Failed logins, counted per user name *and* client address, so guessing
//! a password is slowed down without letting anyone lock another user out:
//! wrong guesses from one address never delay a login from another.
//!
//! After `FREE_ATTEMPTS` failures in a row, each further attempt from that
//! address for that name waits out a delay that doubles with every failure,
//! up to `MAX_DELAY`. The records are shared by every server process on the
//! store (`shared`), so a guesser gains nothing by spreading guesses over
//! them; each expires once it no longer delays nor counts towards a delay.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Failures allowed before the first delay.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first delay; each further failure doubles it.
pub const FIRST_DELAY: Duration = Duration::from_secs(30);
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Who tries: the user name and the client's address (`None` when the
/// server cannot tell it, as in tests that call the router directly).
pub type Attempt = (String, Option<IpAddr>);

/// The failures in a row of one attempt, at whole seconds of the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Failures {
    count: u32,
    last: u64,
}

impl Failures {
    /// When the next attempt may be checked.
    fn open_at(&self) -> u64 {
        if self.count < FREE_ATTEMPTS {
            return self.last;
        }
        let doublings = (self.count - FREE_ATTEMPTS).min(16);
        let delay = (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY);
        self.last + delay.as_secs()
    }

    /// How long an attempt at `now` must still wait, if it must.
    pub fn wait(&self, now: u64) -> Option<Duration> {
        let open_at = self.open_at();
        (open_at > now).then(|| Duration::from_secs(open_at - now))
    }

    /// These failures and one more at `now`.
    pub fn and_one_more(self, now: u64) -> Failures {
        Failures {
            count: self.count.saturating_add(1),
            last: now,
        }
    }

    /// When the record may go: its delay has ended and it is older than
    /// the longest delay, so it no longer counts towards one.
    pub fn expires_at(&self) -> u64 {
        self.open_at().max(self.last + MAX_DELAY.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(times: u32, now: u64) -> Failures {
        (0..times).fold(Failures::default(), |f, _| f.and_one_more(now))
    }

    #[test]
    fn the_first_failures_are_free_and_the_next_waits_the_first_delay() {
        assert_eq!(fail(FREE_ATTEMPTS - 1, 1000).wait(1000), None);
        assert_eq!(fail(FREE_ATTEMPTS, 1000).wait(1000), Some(FIRST_DELAY));
        assert_eq!(fail(FREE_ATTEMPTS, 1000).wait(1000 + 30), None);
    }

    #[test]
    fn the_delay_doubles_with_each_failure_up_to_the_cap() {
        let mut failures = Failures::default();
        let mut now = 1_000_000;
        let mut delays = Vec::new();
        for _ in 0..FREE_ATTEMPTS + 10 {
            if let Some(wait) = failures.wait(now) {
                delays.push(wait);
                now += wait.as_secs();
            }
            failures = failures.and_one_more(now);
        }
        delays.push(failures.wait(now).unwrap());
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert_eq!(delays[2], FIRST_DELAY * 4);
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
    }

    #[test]
    fn a_record_expires_only_once_it_neither_delays_nor_counts() {
        let locked = fail(FREE_ATTEMPTS + 20, 5000);
        let expires = locked.expires_at();
        assert_eq!(expires, 5000 + MAX_DELAY.as_secs());
        assert_eq!(locked.wait(expires - 1), Some(Duration::from_secs(1)));
        assert_eq!(locked.wait(expires), None);
        assert_eq!(fail(2, 5000).expires_at(), 5000 + MAX_DELAY.as_secs());
    }
}
