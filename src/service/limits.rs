//! Brute-force limits: failed logins per (account, address), per address and
//! per account; sign-ups per address; failed client authentications per
//! address; and how many logins one address may have in flight.
//!
//! They count *failures* in fixed windows, so honest traffic (an integration
//! exchanging thousands of codes) is never slowed, and a guesser is stopped
//! after a few tries. An attempt is counted *before* its password is checked
//! and refunded if it succeeds, so a burst of concurrent guesses cannot all
//! pass the check while the first ones are still being verified.
//!
//! The tables are keyed by a fixed-size hash of what they count (never the
//! text an attacker sent), pruned of expired windows on a timer, and capped:
//! when a table is full, its oldest windows are forgotten first. A keyed
//! token bucket (e.g. `governor`) cannot ask "is this key blocked?" without
//! spending a token, which is why this is a small counter of its own. The
//! counts live in this process: with several instances, each enforces its
//! limit separately (see README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Failed logins allowed per account from one address per window; also
    /// the account-wide count past which each address gets one try only.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address per window.
    pub login_failures_per_ip: u32,
    /// Registrations allowed per client address per window.
    pub registrations_per_ip: u32,
    /// Failed client authentications allowed per address per window.
    pub client_auth_failures: u32,
    /// Logins and registrations one address may have waiting or running at once.
    pub logins_in_flight_per_ip: u32,
    /// Password-reset requests per client address, and per e-mail address, per window.
    pub resets_per_ip: u32,
    pub resets_per_email: u32,
    /// Verification mails a user may ask for again per window.
    pub verify_mails_per_user: u32,
    /// Wrong user codes typed on /device per session, and per address, per window.
    pub device_code_failures: u32,
    pub window: Duration,
    /// Most keys one table tracks (its memory is bounded by this).
    pub max_tracked: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            registrations_per_ip: 20,
            client_auth_failures: 20,
            logins_in_flight_per_ip: 4,
            resets_per_ip: 10,
            resets_per_email: 3,
            verify_mails_per_user: 3,
            device_code_failures: 10,
            window: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}

pub struct Limits {
    /// Failures for one account from one address: the hard block.
    pub login_pair: Counter,
    /// Failures for one account from anywhere: past its limit, the back-off.
    pub login_account: Counter,
    pub login_ip: Counter,
    pub register_ip: Counter,
    pub client_auth_ip: Counter,
    pub reset_ip: Counter,
    /// Keyed by a hash of the e-mail address: the address itself is never kept.
    pub reset_email: Counter,
    pub verify_mail_user: Counter,
    /// Wrong user codes on /device, per session and per address.
    pub device_user_code: Counter,
    /// Logins and registrations being handled, per address.
    pub in_flight: Counter,
}

impl Limits {
    pub fn new(s: &LimitSettings) -> Self {
        let counter = |max| Counter::new(max, s.window, s.max_tracked);
        Limits {
            login_pair: counter(s.login_failures_per_account),
            login_account: counter(s.login_failures_per_account),
            login_ip: counter(s.login_failures_per_ip),
            register_ip: counter(s.registrations_per_ip),
            client_auth_ip: counter(s.client_auth_failures),
            reset_ip: counter(s.resets_per_ip),
            reset_email: counter(s.resets_per_email),
            verify_mail_user: counter(s.verify_mails_per_user),
            device_user_code: counter(s.device_code_failures),
            // In flight is not a window: a slot is held until it is given back.
            in_flight: Counter::new(s.logins_in_flight_per_ip, Duration::MAX, s.max_tracked),
        }
    }

    /// Forgets every window that has ended.
    pub fn prune(&self, now: Instant) {
        for counter in [
            &self.login_pair,
            &self.login_account,
            &self.login_ip,
            &self.register_ip,
            &self.client_auth_ip,
            &self.reset_ip,
            &self.reset_email,
            &self.verify_mail_user,
            &self.device_user_code,
        ] {
            counter.prune(now);
        }
    }
}

/// What a counter is keyed by: a hash of the parts, so an entry's size does
/// not depend on what the request sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitKey([u8; 16]);

impl LimitKey {
    pub fn of(parts: &[&str]) -> LimitKey {
        let mut h = Sha256::new();
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        LimitKey(key)
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    count: u32,
}

/// Events per key in fixed windows, for at most `cap` keys.
pub struct Counter {
    max: u32,
    window: Duration,
    cap: usize,
    slots: Mutex<HashMap<LimitKey, Slot>>,
}

/// `Err(seconds until the window ends)`: the key has used up its events.
pub type Limited = Result<(), u64>;

impl Counter {
    pub fn new(max: u32, window: Duration, cap: usize) -> Self {
        Counter { max, window, cap: cap.max(1), slots: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LimitKey, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, slot: &Slot, now: Instant) -> bool {
        now.saturating_duration_since(slot.start) < self.window
    }

    fn retry_after(&self, slot: &Slot, now: Instant) -> u64 {
        self.window.saturating_sub(now.saturating_duration_since(slot.start)).as_secs().clamp(1, 24 * 3600)
    }

    /// Events counted for the key in its current window.
    pub fn count(&self, key: LimitKey, now: Instant) -> u32 {
        self.lock().get(&key).filter(|s| self.live(s, now)).map_or(0, |s| s.count)
    }

    /// `Err(seconds until the window ends)` if the key has used up its events.
    pub fn blocked(&self, key: LimitKey, now: Instant) -> Limited {
        match self.lock().get(&key) {
            Some(slot) if self.live(slot, now) && slot.count >= self.max => Err(self.retry_after(slot, now)),
            _ => Ok(()),
        }
    }

    /// Counts one event for the key unless it has used up its events, in one
    /// step: of many concurrent callers, exactly `max` get through. `Ok`
    /// holds how many were counted before this one.
    pub fn acquire(&self, key: LimitKey, now: Instant) -> Result<u32, u64> {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(&key) {
            if !self.live(slot, now) {
                *slot = Slot { start: now, count: 0 };
            }
            if slot.count >= self.max {
                return Err(self.retry_after(slot, now));
            }
            slot.count += 1;
            return Ok(slot.count - 1);
        }
        if self.max == 0 {
            return Err(self.window.as_secs().clamp(1, 24 * 3600));
        }
        self.make_room(&mut slots, now);
        slots.insert(key, Slot { start: now, count: 1 });
        Ok(0)
    }

    /// Counts one event for the key, whatever its count.
    pub fn record(&self, key: LimitKey, now: Instant) {
        let mut slots = self.lock();
        match slots.get_mut(&key) {
            Some(slot) if self.live(slot, now) => slot.count = slot.count.saturating_add(1),
            Some(slot) => *slot = Slot { start: now, count: 1 },
            None => {
                self.make_room(&mut slots, now);
                slots.insert(key, Slot { start: now, count: 1 });
            }
        }
    }

    /// Takes back one event counted in the key's current window (an attempt
    /// that turned out not to be a failure).
    pub fn refund(&self, key: LimitKey, now: Instant) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(&key) {
            if self.live(slot, now) {
                slot.count = slot.count.saturating_sub(1);
            }
            if slot.count == 0 {
                slots.remove(&key);
            }
        }
    }

    pub fn clear(&self, key: LimitKey) {
        self.lock().remove(&key);
    }

    pub fn prune(&self, now: Instant) {
        self.lock().retain(|_, slot| self.live(slot, now));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Before a new key goes in a full table: drop ended windows, then the
    /// oldest eighth, so a flood of new keys costs O(1) per key on average
    /// and memory never passes the cap.
    fn make_room(&self, slots: &mut HashMap<LimitKey, Slot>, now: Instant) {
        if slots.len() < self.cap {
            return;
        }
        slots.retain(|_, slot| self.live(slot, now));
        if slots.len() < self.cap {
            return;
        }
        let mut starts: Vec<Instant> = slots.values().map(|s| s.start).collect();
        let cut = (starts.len() / 8).max(1);
        let (_, oldest_kept, _) = starts.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        slots.retain(|_, slot| slot.start >= oldest_kept);
        while slots.len() >= self.cap {
            // Many windows began at the same instant: drop any of them.
            let Some(key) = slots.keys().next().copied() else { break };
            slots.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> LimitKey {
        LimitKey::of(&[s])
    }

    #[test]
    fn blocks_after_max_events_until_the_window_ends() {
        let c = Counter::new(2, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        assert!(c.acquire(key("a"), t0).is_ok());
        assert!(c.acquire(key("a"), t0).is_ok());
        assert_eq!(c.acquire(key("a"), t0 + Duration::from_secs(15)), Err(45));
        assert!(c.acquire(key("b"), t0).is_ok());
        assert!(c.acquire(key("a"), t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn a_refunded_attempt_does_not_count() {
        let c = Counter::new(1, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        c.acquire(key("a"), t0).unwrap();
        c.refund(key("a"), t0);
        assert_eq!(c.count(key("a"), t0), 0);
        assert!(c.acquire(key("a"), t0).is_ok());
    }

    #[test]
    fn keys_are_the_same_size_whatever_was_sent() {
        assert_eq!(LimitKey::of(&["x".repeat(60_000).as_str()]).0.len(), 16);
        assert_ne!(LimitKey::of(&["ab", "c"]), LimitKey::of(&["a", "bc"]));
    }

    #[test]
    fn a_full_table_forgets_its_oldest_windows_and_never_grows_past_its_cap() {
        let c = Counter::new(5, Duration::from_secs(600), 64);
        let t0 = Instant::now();
        c.record(key("oldest"), t0);
        for i in 0..1000 {
            c.record(key(&i.to_string()), t0 + Duration::from_millis(1 + i));
            assert!(c.len() <= 64);
        }
        assert_eq!(c.count(key("oldest"), t0 + Duration::from_secs(1)), 0, "the oldest window went first");
        assert_eq!(c.count(key("999"), t0 + Duration::from_secs(2)), 1, "the newest is kept");
    }

    #[test]
    fn pruning_forgets_ended_windows() {
        let c = Counter::new(5, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        c.record(key("a"), t0);
        c.record(key("b"), t0 + Duration::from_secs(30));
        c.prune(t0 + Duration::from_secs(61));
        assert_eq!(c.len(), 1);
    }
}
