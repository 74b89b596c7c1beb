//! Brute-force limits: failed logins per account and per address, sign-ups
//! per address, failed client authentications per client and per address.
//!
//! They count *failures* in fixed windows, so honest traffic (an integration
//! exchanging thousands of codes) is never slowed, and a guesser is stopped
//! after a few tries. A keyed token bucket (e.g. `governor`) cannot ask "is
//! this key blocked?" without spending a token, which is why this is a small
//! counter of its own. The counts live in this process: with several
//! instances, each enforces its limit separately (see README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Failed logins allowed per account per window.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address per window.
    pub login_failures_per_ip: u32,
    /// Registrations allowed per client address per window.
    pub registrations_per_ip: u32,
    /// Failed client authentications allowed per client id, and per address, per window.
    pub client_auth_failures: u32,
    pub window: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            registrations_per_ip: 20,
            client_auth_failures: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

pub struct Limits {
    pub login_account: Counter,
    pub login_ip: Counter,
    pub register_ip: Counter,
    pub client_auth: Counter,
    pub client_auth_ip: Counter,
}

impl Limits {
    pub fn new(s: &LimitSettings) -> Self {
        Limits {
            login_account: Counter::new(s.login_failures_per_account, s.window),
            login_ip: Counter::new(s.login_failures_per_ip, s.window),
            register_ip: Counter::new(s.registrations_per_ip, s.window),
            client_auth: Counter::new(s.client_auth_failures, s.window),
            client_auth_ip: Counter::new(s.client_auth_failures, s.window),
        }
    }
}

/// Events per key in fixed windows.
pub struct Counter {
    max: u32,
    window: Duration,
    slots: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Bound on tracked keys, so a flood of distinct keys cannot grow memory without limit.
const MAX_KEYS: usize = 100_000;

impl Counter {
    pub fn new(max: u32, window: Duration) -> Self {
        Counter { max, window, slots: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds until the window ends)` when the key has used up its events.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(key) {
            Some((start, count)) if *count >= self.max && now.duration_since(*start) < self.window => {
                Err((self.window - now.duration_since(*start)).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for the key.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= MAX_KEYS && !slots.contains_key(key) {
            let window = self.window;
            slots.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let slot = slots.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(slot.0) >= self.window {
            *slot = (now, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }

    /// Checks, and counts the event if it is allowed.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        self.check(key)?;
        self.record(key);
        Ok(())
    }

    pub fn clear(&self, key: &str) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_events_until_window_ends() {
        let c = Counter::new(2, Duration::from_millis(50));
        assert!(c.hit("a").is_ok());
        assert!(c.hit("a").is_ok());
        assert!(c.check("a").is_err());
        assert!(c.check("b").is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.hit("a").is_ok());
    }
}
