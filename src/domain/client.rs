//! API clients: what a valid client registration is.
//!
//! The rules come from the spec's "API client" concept; they are checked here,
//! once, for both creation and edits.

use serde::Serialize;
use url::Url;

use super::Invalid;
use super::permission::PermissionSet;

/// The marker a client's `apiKeyFormat` must contain; its first occurrence is
/// replaced by the key in the Client File Flow.
pub const KEY_PLACEHOLDER: &str = "%%TACHI_KEY%%";

/// The extensions a Client File Flow download may have: data formats that no
/// system runs when the user opens the file. The download comes from our
/// origin, so it must never be a way to hand out a program, a script or a
/// shortcut; a list of what is refused always misses one (`.vb`, `.sct`,
/// `.library-ms`…), so this lists what is allowed instead.
const DATA_EXTENSIONS: &[&str] =
    &["json", "txt", "toml", "yaml", "yml", "ini", "cfg", "conf", "config", "env", "csv", "properties", "key"];

/// Names Windows gives to devices: `CON`, `nul.json` and the like open the
/// device, not a file.
fn is_windows_device_name(file_name: &str) -> bool {
    let stem = file_name.split('.').next().unwrap_or_default().to_ascii_lowercase();
    matches!(stem.as_str(), "con" | "prn" | "aux" | "nul" | "conin$" | "conout$")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// One field of a client, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientName(String);

impl ClientName {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let trimmed = name.trim();
        let len = trimmed.chars().count();
        if !(3..=80).contains(&len) {
            return Err(Invalid::new(format!("name must be 3 to 80 characters long, got {len}")));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid::new("name must not contain control characters"));
        }
        // Format characters (Unicode Cf: bidirectional overrides, zero-width
        // spaces, soft hyphens) make a name display as something it is not.
        if trimmed.chars().any(is_format_character) {
            return Err(Invalid::new(
                "name must not contain invisible or text-direction characters (such as U+200B or U+202E)",
            ));
        }
        Ok(ClientName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this name would pass for `other` on a page: the same letters
    /// once case, spacing, punctuation and look-alike characters are set aside.
    pub fn looks_like(&self, other: &str) -> bool {
        // Case first and last: `I` passes for `l`, yet `TACHI` is `tachi`.
        let (this, that) = (self.0.to_lowercase(), other.to_lowercase());
        let same = |a: String, b: String| !a.is_empty() && a == b;
        same(display_skeleton(&this), display_skeleton(&that))
            || same(display_skeleton(&self.0), display_skeleton(other))
    }
}

/// Unicode's general category Cf (format), which the standard library does
/// not expose: the characters of that category in current Unicode.
fn is_format_character(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// A name as it reads: look-alike characters folded to one (Unicode's
/// confusables, UTS #39), then case, with spaces and punctuation dropped.
fn display_skeleton(name: &str) -> String {
    use unicode_security::confusable_detection::skeleton;
    skeleton(name)
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        // The skeleton maps some letters to digits' look-alikes and back; fold
        // the ASCII pairs it leaves apart.
        .replace('0', "o")
        .replace('1', "l")
}

/// An absolute http(s) URL without a fragment (RFC 6749 §3.1.2 forbids one on
/// a redirection endpoint; we apply the same to webhooks for simplicity).
pub fn parse_http_url(field: &str, value: &str) -> Result<String, Invalid> {
    parse_url(field, value, false)
}

/// A client's redirect URI: an http(s) URL as [`parse_http_url`] checks it,
/// or — for a program on the player's computer — a URL of a `tachi-<name>:`
/// scheme, exactly the schemes the original server's `IsValidURL` allows
/// (`^tachi-[a-z0-9]+:$` on the URL's protocol). Every other scheme is refused.
pub fn parse_redirect_uri(value: &str) -> Result<String, Invalid> {
    parse_url("redirectUri", value, true)
}

fn parse_url(field: &str, value: &str, native_allowed: bool) -> Result<String, Invalid> {
    if value.len() > 2000 {
        return Err(Invalid::new(format!("{field} is longer than 2000 characters")));
    }
    // The URL parser silently drops or escapes these; the value is stored and
    // compared as given, and ends up in a Location header, so they are refused.
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Invalid::new(format!("{field} must not contain spaces or control characters")));
    }
    let url = Url::parse(value).map_err(|e| Invalid::new(format!("{field} is not a valid URL: {e}")))?;
    let native = native_allowed && is_native_scheme(url.scheme());
    if !native && !matches!(url.scheme(), "http" | "https") {
        return Err(Invalid::new(if native_allowed {
            format!(
                "{field} must be an http or https URL, or a tachi-<name>: URL for a program on the player's computer"
            )
        } else {
            format!("{field} must be an http or https URL")
        }));
    }
    // A program's URL may have no host (`tachi-foo:callback`); a website's must.
    if !native && url.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::new(format!("{field} must have a host")));
    }
    if url.fragment().is_some() {
        return Err(Invalid::new(format!("{field} must not contain a fragment (#...)")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new(format!("{field} must not contain credentials")));
    }
    // Stored exactly as given: redirect URIs are compared by simple string
    // equality (RFC 9700 §4.1.3), so we do not normalise them behind the author's back.
    Ok(value.to_owned())
}

/// `tachi-` then one or more lowercase letters or digits (the URL parser has
/// already lowercased the scheme, as the original's `new URL` does).
fn is_native_scheme(scheme: &str) -> bool {
    scheme
        .strip_prefix("tachi-")
        .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// The `tachi-<name>` scheme of a redirect URI that sends the player to a
/// program on their computer rather than to a website; `None` for any other.
pub fn native_scheme(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    is_native_scheme(url.scheme()).then(|| url.scheme().to_owned())
}

/// A public client's redirect URI must not name `localhost`: a name can be
/// resolved elsewhere, or to an interface the program does not listen on
/// (RFC 8252 §8.3); the loopback address itself is used instead.
pub fn check_public_redirect_uri(value: &str) -> Result<(), Invalid> {
    let url = Url::parse(value).map_err(|e| Invalid::new(format!("redirectUri is not a valid URL: {e}")))?;
    if url.host_str().is_some_and(|h| h.eq_ignore_ascii_case("localhost")) {
        return Err(Invalid::new(
            "a public client's redirectUri must use the loopback address (http://127.0.0.1:PORT/… or \
             http://[::1]:PORT/…), not localhost (RFC 8252 §8.3)",
        ));
    }
    Ok(())
}

/// Whether an authorization request's `redirect_uri` is the registered one:
/// identical (RFC 9700 §4.1.3), or, for a public client registered with a
/// loopback address, identical but for the port, which a program on the
/// player's computer picks when it starts listening (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, given: &str, public: bool) -> bool {
    given == registered || (public && same_loopback_uri_but_port(registered, given))
}

fn same_loopback_uri_but_port(registered: &str, given: &str) -> bool {
    let (Ok(registered), Ok(parsed)) = (Url::parse(registered), Url::parse(given)) else { return false };
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    };
    let mut with_port = registered.clone();
    // Compared as written: a URI the parser would rewrite is not the same URI.
    loopback
        && parsed.scheme() == "http"
        && parsed.as_str() == given
        && with_port.set_port(parsed.port()).is_ok()
        && with_port.as_str() == given
}

/// The grants a client allows (RFC 6749 §4.1 and RFC 8628), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants(i64);

impl Grants {
    pub const AUTHORIZATION_CODE: Grants = Grants(1);
    pub const DEVICE_CODE: Grants = Grants(2);
    /// Every client's grant unless its author says otherwise.
    pub const DEFAULT: Grants = Grants::AUTHORIZATION_CODE;
    const NAMES: [(Grants, &'static str); 2] =
        [(Grants::AUTHORIZATION_CODE, "authorization_code"), (Grants::DEVICE_CODE, "device_code")];

    /// As stored; bits this version does not know are kept out.
    pub fn from_bits(bits: i64) -> Grants {
        Grants(bits & 3)
    }

    pub fn bits(self) -> i64 {
        self.0
    }

    pub fn allows(self, grant: Grants) -> bool {
        self.0 & grant.0 == grant.0
    }

    /// `["authorization_code", "device_code"]`: known names, at least one.
    pub fn parse_list(names: &[String]) -> Result<Grants, Invalid> {
        let mut bits = 0;
        for name in names {
            let Some((g, _)) = Grants::NAMES.iter().find(|(_, n)| n == name) else {
                return Err(Invalid::new(format!(
                    "grants: unknown grant '{name}' (known: authorization_code, device_code)"
                )));
            };
            if bits & g.0 != 0 {
                return Err(Invalid::new(format!("grants: '{name}' is named twice")));
            }
            bits |= g.0;
        }
        if bits == 0 {
            return Err(Invalid::new("grants must name at least one grant: authorization_code, device_code"));
        }
        Ok(Grants(bits))
    }

    pub fn names(self) -> Vec<&'static str> {
        Grants::NAMES.iter().filter(|(g, _)| self.allows(*g)).map(|(_, n)| *n).collect()
    }
}

pub fn parse_api_key_format(value: &str) -> Result<String, Invalid> {
    if value.len() > 10_000 {
        return Err(Invalid::new("apiKeyFormat is longer than 10000 characters"));
    }
    if !super::is_multiline_text(value) {
        return Err(Invalid::new("apiKeyFormat must not contain control characters (other than line breaks and tabs)"));
    }
    if !value.contains(KEY_PLACEHOLDER) {
        return Err(Invalid::new(format!("apiKeyFormat must contain {KEY_PLACEHOLDER}")));
    }
    Ok(value.to_owned())
}

pub fn parse_api_key_filename(value: &str) -> Result<String, Invalid> {
    if value.is_empty() || value.len() > 100 {
        return Err(Invalid::new("apiKeyFilename must be 1 to 100 characters long"));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(Invalid::new("apiKeyFilename may only contain letters, digits, '.', '_' and '-' (no path)"));
    }
    if value.starts_with('.') || value.ends_with('.') || value.contains("..") {
        return Err(Invalid::new("apiKeyFilename must not start or end with '.' or contain '..'"));
    }
    if is_windows_device_name(value) {
        return Err(Invalid::new("apiKeyFilename must not be a name Windows reserves for a device (CON, NUL, COM1…)"));
    }
    let lowered = value.to_ascii_lowercase();
    match lowered.rsplit_once('.').map(|(_, ext)| ext) {
        Some(ext) if DATA_EXTENSIONS.contains(&ext) => Ok(value.to_owned()),
        _ => Err(Invalid::new(format!(
            "apiKeyFilename must end in the extension of a data format: .{}",
            DATA_EXTENSIONS.join(", .")
        ))),
    }
}

pub fn check_requested_permissions(set: PermissionSet) -> Result<PermissionSet, Invalid> {
    if set.is_empty() {
        return Err(Invalid::new("permissions must name at least one permission"));
    }
    Ok(set)
}

/// Fills the Client File Flow template: the first placeholder becomes the key.
pub fn render_key_file(format: &str, key: &str) -> String {
    format.replacen(KEY_PLACEHOLDER, key, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_3_to_80_characters() {
        assert!(ClientName::parse("ab").is_err());
        assert!(ClientName::parse("  abc  ").is_ok());
        assert!(ClientName::parse(&"é".repeat(80)).is_ok());
        assert!(ClientName::parse(&"é".repeat(81)).is_err());
        assert!(ClientName::parse("bad\u{7}name").is_err());
    }

    #[test]
    fn names_refuse_invisible_and_direction_characters() {
        for c in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{AD}', '\u{FEFF}'] {
            assert!(ClientName::parse(&format!("Score{c}Hook")).is_err(), "U+{:04X}", c as u32);
        }
        assert!(ClientName::parse("Scöre Hook ✓").is_ok());
    }

    #[test]
    fn look_alike_names_are_found() {
        let hook = ClientName::parse("Tachi Score Hook").unwrap();
        assert!(hook.looks_like("tachi score hook"));
        assert!(hook.looks_like("Tachi  Score-Hook"));
        assert!(hook.looks_like("Tаchi Score Hook"), "a Cyrillic а");
        assert!(hook.looks_like("Tachi Sc0re H00k"));
        assert!(hook.looks_like("TACHI SCORE HOOK"));
        assert!(ClientName::parse("paypal").unwrap().looks_like("paypaI"));
        assert!(!hook.looks_like("Tachi Score Bot"));
    }

    #[test]
    fn urls_must_be_http_without_fragment() {
        assert!(parse_http_url("redirectUri", "https://example.com/cb?x=1").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x.org/",
            "https://x.org/#f",
            "not a url",
            "https://u:p@x.org/",
            "file:///etc",
            "https://x.org/cb\0",
            "https://x.org/cb\n",
            "https://x.org/a b",
        ] {
            assert!(parse_http_url("redirectUri", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris_may_name_a_tachi_program() {
        for ok in
            ["https://example.com/cb", "tachi-beatoraja:", "tachi-foo://callback", "tachi-x9:auth?x=1", "TACHI-FOO:cb"]
        {
            assert_eq!(parse_redirect_uri(ok).as_deref(), Ok(ok), "{ok}");
        }
        assert_eq!(native_scheme("TACHI-FOO:cb").as_deref(), Some("tachi-foo"));
        assert_eq!(native_scheme("https://example.com/cb"), None);
        for bad in [
            "tachi-:x",
            "tachi_foo:x",
            "tachi-foo-bar:x",
            "tachi-fo.o:x",
            "tachi-foo+x:y",
            "tachifoo:x",
            "xtachi-foo:x",
            "javascript:alert(1)",
            "myapp:cb",
            "ftp://x.org/",
            "tachi-foo:cb#frag",
            "tachi-foo:a b",
            "tachi-foo://u:p@host/",
        ] {
            assert!(parse_redirect_uri(bad).is_err(), "{bad}");
        }
        // Webhooks stay http(s).
        assert!(parse_http_url("webhookUri", "tachi-foo:cb").is_err());
    }

    #[test]
    fn a_public_clients_loopback_redirect_may_use_any_port() {
        let registered = "http://127.0.0.1/callback?app=hook";
        assert!(redirect_uri_matches(registered, "http://127.0.0.1:53127/callback?app=hook", true));
        assert!(redirect_uri_matches("http://[::1]/cb", "http://[::1]:8000/cb", true));
        assert!(!redirect_uri_matches(registered, "http://127.0.0.1:53127/callback?app=hook", false), "confidential");
        for other in [
            "http://127.0.0.1:53127/other?app=hook",
            "http://127.0.0.1:53127/callback",
            "https://127.0.0.1:53127/callback?app=hook",
            "http://127.0.0.2:53127/callback?app=hook",
            "http://localhost:53127/callback?app=hook",
            "http://127.0.0.1:53127/callback?app=hook#x",
            "http://user@127.0.0.1:53127/callback?app=hook",
        ] {
            assert!(!redirect_uri_matches(registered, other, true), "{other}");
        }
        assert!(!redirect_uri_matches("https://example.com/cb", "https://example.com:8443/cb", true));
        assert!(check_public_redirect_uri("http://localhost:8000/cb").is_err());
        assert!(check_public_redirect_uri("http://127.0.0.1/cb").is_ok());
    }

    #[test]
    fn filenames_refuse_paths_and_executables() {
        assert!(parse_api_key_filename("config.json").is_ok());
        assert!(parse_api_key_filename("tachi-key_2.txt").is_ok());
        for bad in ["../x.json", "a/b.json", "run.EXE", "x.sh", "x.ps1", "x.js", ".hidden", "", "a b.txt", "x.html"] {
            assert!(parse_api_key_filename(bad).is_err(), "{bad}");
        }
        for bad in [
            "x.vb",
            "x.ws",
            "x.wsc",
            "x.sct",
            "x.tool",
            "x.terminal",
            "x.rdp",
            "x.library-ms",
            "x.settingcontent-ms",
            "x.appref-ms",
            "x.jnlp",
            "x.mobileconfig",
            "x.xml",
            "x.xsl",
            "CON",
            "nul.json",
            "aux",
            "COM1.txt",
            "lpt9.ini",
            "noextension",
        ] {
            assert!(parse_api_key_filename(bad).is_err(), "{bad}");
        }
        for good in ["hook.toml", "tachi.conf", "settings.YAML", "console.json", "com.json", "auxiliary.txt"] {
            assert!(parse_api_key_filename(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn grants_are_known_names() {
        let both = Grants::parse_list(&["device_code".into(), "authorization_code".into()]).unwrap();
        assert!(both.allows(Grants::DEVICE_CODE) && both.allows(Grants::AUTHORIZATION_CODE));
        assert_eq!(both.names(), ["authorization_code", "device_code"]);
        assert_eq!(Grants::from_bits(both.bits()), both);
        assert!(!Grants::DEFAULT.allows(Grants::DEVICE_CODE));
        assert!(Grants::parse_list(&[]).is_err());
        assert!(Grants::parse_list(&["implicit".into()]).is_err());
        assert!(Grants::parse_list(&["device_code".into(), "device_code".into()]).is_err(), "a grant named twice");
    }

    #[test]
    fn key_file_replaces_only_the_first_placeholder() {
        assert_eq!(render_key_file("a=%%TACHI_KEY%% b=%%TACHI_KEY%%", "K"), "a=K b=%%TACHI_KEY%%");
        assert!(parse_api_key_format("no marker").is_err());
    }
}
