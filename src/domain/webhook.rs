//! Events to integrations, as the Standard Webhooks specification shapes
//! them: what an event says, how it is signed, and which addresses a
//! delivery may go to. Plain rules: the sending is `crate::webhook`'s, the
//! outbox `storage`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix the specification gives a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a signing secret: the specification asks for 24 to 64.
const SECRET_BYTES: usize = 32;

/// A client's signing secret, `whsec_` and the key in base64. It is an HMAC
/// key, so the server keeps it as issued (it cannot sign with a hash); its
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

impl SigningSecret {
    pub fn generate() -> SigningSecret {
        let mut key = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        SigningSecret(format!("{SECRET_PREFIX}{}", BASE64.encode(key)))
    }

    /// A secret as stored; `None` if it is not one this server made.
    pub fn from_stored(text: String) -> Option<SigningSecret> {
        let secret = SigningSecret(text);
        secret.key().filter(|k| k.len() >= 24).map(|_| secret)
    }

    /// The text shown once to the client's author, and stored.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Option<Vec<u8>> {
        BASE64.decode(self.0.strip_prefix(SECRET_PREFIX)?).ok()
    }

    /// The `webhook-signature` header's value for message `id`, sent at
    /// `timestamp` (unix seconds), with `body`: `v1,` and the base64 of
    /// HMAC-SHA256 over `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let key = self.key().unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// Why a key was revoked, as the event's `data.reason` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The player revoked it (on the dashboard or through the API).
    User,
    /// The player made a new key for the client in the Client File Flow,
    /// which replaces their earlier one.
    Replaced,
    /// The authorization code it was issued for was presented again.
    CodeReplayed,
    /// The client was deleted with every key it issued.
    ClientDeleted,
    /// The operator revoked the player's keys (`tachi-auth user --revoke-keys`).
    Operator,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::User => "revoked_by_user",
            Reason::Replaced => "replaced_by_new_key",
            Reason::CodeReplayed => "code_replayed",
            Reason::ClientDeleted => "client_deleted",
            Reason::Operator => "revoked_by_operator",
        }
    }
}

/// Something an integration must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One of the client's keys no longer works.
    KeyRevoked { user_id: i64, key_id: String, reason: Reason },
    /// The player disconnected the app: none of the client's keys for them
    /// is left (`key_id`: the last one, whose revocation did it).
    AppDeauthorized { user_id: i64, key_id: String },
    /// The client's secret was reset.
    SecretReset,
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::KeyRevoked { .. } => "key.revoked",
            Event::AppDeauthorized { .. } => "app.deauthorized",
            Event::SecretReset => "client.secret_reset",
        }
    }

    /// The event ready for the outbox: its id, and the body every delivery
    /// of it sends (a token never is in it, only ids).
    pub fn message(&self, client_id: &str, at_ms: i64) -> Message {
        let id = crate::domain::secret::random_id("msg_");
        let mut data = serde_json::json!({ "clientID": client_id });
        match self {
            Event::KeyRevoked { user_id, key_id, reason } => {
                data["userID"] = (*user_id).into();
                data["keyID"] = key_id.as_str().into();
                data["reason"] = reason.as_str().into();
            }
            Event::AppDeauthorized { user_id, key_id } => {
                data["userID"] = (*user_id).into();
                data["keyID"] = key_id.as_str().into();
            }
            Event::SecretReset => {}
        }
        let body = serde_json::json!({
            "id": id,
            "type": self.kind(),
            "timestamp": rfc3339(at_ms),
            "data": data,
        });
        Message { id, kind: self.kind(), body: body.to_string(), created_at: at_ms }
    }
}

/// An event as the outbox holds it.
#[derive(Debug, Clone)]
pub struct Message {
    /// `msg_…`: the `webhook-id` of every attempt, for receivers to deduplicate.
    pub id: String,
    pub kind: &'static str,
    pub body: String,
    pub created_at: i64,
}

/// `2026-12-03T18:30:00.123Z` for unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let t = super::clock::CivilTime::from_unix_ms(ms);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis)
}

/// The wait after the `attempt`th failed attempt: `base`, doubled each
/// time, at most `cap`.
pub fn backoff(base: std::time::Duration, attempt: i64, cap: std::time::Duration) -> std::time::Duration {
    let doublings = (attempt.clamp(1, 40) - 1) as u32;
    base.saturating_mul(1u32 << doublings.min(24)).min(cap)
}

/// May a delivery connect to `ip`? Only to an address of the public
/// internet: not loopback, link-local, private, shared (CGNAT), multicast,
/// reserved or documentation ranges, nor an IPv6 address that embeds one of
/// those (IPv4-mapped, NAT64, 6to4). The SSRF guard checks every address a
/// webhook's host resolves to with this.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0]; // IPv4-compatible (deprecated), ::/96
    !blocked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example: secret, id, timestamp, body and the
    /// signature its libraries compute.
    #[test]
    fn signs_as_the_specification_example() {
        let secret = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = r#"{"test": 2432232314}"#;
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_are_whsec_and_32_random_bytes() {
        let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(a.key().unwrap().len(), 32);
        assert_ne!(a, b);
        assert_eq!(SigningSecret::from_stored(a.expose().to_owned()), Some(a.clone()));
        assert_eq!(SigningSecret::from_stored("whsec_short".into()), None);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn a_message_names_event_id_time_user_and_key() {
        let e = Event::KeyRevoked { user_id: 7, key_id: "K1".into(), reason: Reason::User };
        let m = e.message("CI1", 1_764_786_600_123);
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["type"], "key.revoked");
        assert_eq!(v["id"], m.id.as_str());
        assert!(m.id.starts_with("msg_"));
        assert_eq!(v["timestamp"], "2025-12-03T18:30:00.123Z");
        assert_eq!(v["data"]["userID"], 7);
        assert_eq!(v["data"]["keyID"], "K1");
        assert_eq!(v["data"]["clientID"], "CI1");
        assert_eq!(v["data"]["reason"], "revoked_by_user");
    }

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let s = std::time::Duration::from_secs;
        assert_eq!(backoff(s(5), 1, s(3600)), s(5));
        assert_eq!(backoff(s(5), 3, s(3600)), s(20));
        assert_eq!(backoff(s(5), 30, s(3600)), s(3600));
    }

    #[test]
    fn only_public_addresses_pass_the_guard() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34", "64:ff9b::101:101"] {
            assert!(is_public_address(public.parse().unwrap()), "{public} must be allowed");
        }
    }
}
