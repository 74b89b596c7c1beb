//! API keys' ids and tokens, and how a presented token finds its key.
//!
//! A token is bare hex, as Tachi's are: the 40 digits of its key's id, then
//! 40 digits (160 bits) of randomness. The id half locates the key by its
//! primary key; the random half is the secret, and only the hash of the
//! whole token is stored. Looking keys up by the hash alone needed an index
//! of random values, which costs every new key a write to a random page of
//! it (the biggest part of a token exchange's write); ids
//! sort by creation time, so a new key lands on the last page of the index
//! of ids instead. Keys issued before tokens carried their id (40 digits in
//! all) are still found by their hash, through an index of those keys only.

use super::secret::{PlainSecret, SecretHash, random_id, time_ordered_id};

/// What every key id begins with.
const ID_PREFIX: &str = "AK";
/// Hex digits of a key id after its prefix, and of a token's random half.
const DIGITS: usize = 40;
/// Hex digits of a token: its key's id, then its random half.
const TOKEN_DIGITS: usize = 2 * DIGITS;
/// Hex digits of a token from before tokens carried their key's id.
const OLDER_TOKEN_DIGITS: usize = 40;

/// A new key's id (time-ordered: see `time_ordered_id`) and its token.
pub fn generate() -> (String, PlainSecret) {
    let id = time_ordered_id(ID_PREFIX);
    let token = PlainSecret::from_presented(format!("{}{}", &id[ID_PREFIX.len()..], random_id("")));
    (id, token)
}

/// A token as presented (a bearer header, a revocation or introspection
/// request), ready to be looked up.
#[derive(Debug, Clone, Copy)]
pub struct PresentedKey<'a> {
    pub hash: SecretHash,
    /// The id digits a current token begins with; `None` for a key issued
    /// before tokens carried them.
    id_digits: Option<&'a str>,
}

impl<'a> PresentedKey<'a> {
    /// `None` when `token` has the shape of no key this server ever issued,
    /// so that it is not looked up at all.
    pub fn parse(token: &'a str) -> Option<PresentedKey<'a>> {
        let shaped = matches!(token.len(), TOKEN_DIGITS | OLDER_TOKEN_DIGITS)
            && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !shaped {
            return None;
        }
        // All ASCII, so any byte offset is a character boundary.
        let id_digits = (token.len() == TOKEN_DIGITS).then(|| &token[..DIGITS]);
        Some(PresentedKey { hash: PlainSecret::from_presented(token).hash(), id_digits })
    }

    /// The id of the key this token belongs to, if it names one (a key from
    /// before tokens carried their id is found by its hash alone).
    pub fn key_id(&self) -> Option<String> {
        self.id_digits.map(|digits| format!("{ID_PREFIX}{digits}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_its_keys_id_then_160_random_bits() {
        let (id, token) = generate();
        let t = token.expose();
        assert!(id.starts_with("AK") && id.len() == 42, "{id}");
        assert_eq!(t.len(), 80);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{t}");
        assert_eq!(&t[..40], &id[2..]);
        let (_, other) = generate();
        assert_ne!(t[40..], other.expose()[40..]);
    }

    #[test]
    fn a_presented_token_names_its_key_or_is_looked_up_by_hash_if_it_is_older() {
        let (id, token) = generate();
        let presented = PresentedKey::parse(token.expose()).unwrap();
        assert_eq!(presented.key_id(), Some(id));
        assert_eq!(presented.hash, token.hash());

        let older = "0123456789abcdef0123456789abcdef01234567";
        let presented = PresentedKey::parse(older).unwrap();
        assert_eq!(presented.key_id(), None);
        assert_eq!(presented.hash, PlainSecret::from_presented(older).hash());
    }

    #[test]
    fn values_of_no_key_shape_are_not_looked_up() {
        let (_, token) = generate();
        let t = token.expose();
        for bad in [
            "",
            "nope",
            &t[..79],
            &format!("{t}0"),
            &t.to_uppercase(),
            &format!("{}g", &t[..79]),
            "0123456789abcdef0123456789abcdef0123456Z",
            // 80 bytes, with a character across the id's end: refused, no panic.
            &format!("{}é{}", "0".repeat(39), "0".repeat(39)),
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }
}
