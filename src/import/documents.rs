//! Tachi's documents (zkrising/Tachi, `common/src/types/documents.ts`) read
//! into tachi-auth's records, each field checked by the rule tachi-auth
//! applies to it. An `Err` is the reason a document cannot be imported, said
//! for the operator; it never quotes a secret (a password hash, a client
//! secret, a token).
//!
//! What is checked here is one document alone; what depends on other
//! documents (does the author exist, is the username taken twice) is
//! checked by the caller.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ejson::{self, Doc};
use crate::domain::Client;
use crate::domain::client::{self, ClientName};
use crate::domain::secret::is_well_formed_id;
use crate::domain::{Permission, PermissionSet, PlainSecret, password, user};
use crate::storage::{ImportedKey, ImportedLogin, ImportedUser};

/// Why a document cannot be imported.
pub type Reason = String;

fn field<'a>(doc: &'a Doc, name: &str) -> Result<&'a Value, Reason> {
    doc.get(name).ok_or_else(|| format!("{name} is missing"))
}

fn string<'a>(doc: &'a Doc, name: &str) -> Result<&'a str, Reason> {
    match field(doc, name)? {
        Value::String(s) => Ok(s),
        Value::Null => Err(format!("{name} is null")),
        _ => Err(format!("{name} must be a string")),
    }
}

/// A string, or nothing (absent or null).
fn optional_string<'a>(doc: &'a Doc, name: &str) -> Result<Option<&'a str>, Reason> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} must be a string or null")),
    }
}

fn integer(doc: &Doc, name: &str) -> Result<i64, Reason> {
    match field(doc, name)? {
        Value::Null => Err(format!("{name} is null")),
        v => ejson::int(v).ok_or_else(|| format!("{name} must be an integer")),
    }
}

/// A string stored as it is: any character but NUL and other control
/// characters (PostgreSQL cannot store NUL).
fn plain_text(name: &str, value: &str) -> Result<(), Reason> {
    if value.chars().any(char::is_control) {
        return Err(format!("{name} contains control characters"));
    }
    Ok(())
}

/// The document's creation time, from its ObjectId; `now` without one.
fn created_at(doc: &Doc, now: i64) -> i64 {
    doc.get("_id").and_then(ejson::object_id_millis).unwrap_or(now)
}

/// Tachi's `UserAuthLevels`.
const BANNED: i64 = 0;
const USER: i64 = 1;
const MOD: i64 = 2;
const ADMIN: i64 = 3;

/// A `users` document (Tachi's `UserDocument`).
pub fn user(doc: &Doc) -> Result<ImportedUser, Reason> {
    let id = integer(doc, "id")?;
    if id < 1 {
        return Err(format!("id must be a positive integer, got {id}"));
    }
    let username = string(doc, "username")?;
    user::check_username(username).map_err(|e| format!("username '{}': {e}", printable(username)))?;
    let about = optional_string(doc, "about")?.unwrap_or("");
    user::check_about(about).map_err(|e| e.to_string())?;
    let status = optional_string(doc, "status")?;
    if let Some(status) = status {
        user::check_status(status).map_err(|e| e.to_string())?;
    }
    let join_date = ejson::millis(field(doc, "joinDate")?).ok_or("joinDate must be a time (unix milliseconds)")?;
    let last_seen = match doc.get("lastSeen") {
        None | Some(Value::Null) => None,
        Some(v) => Some(ejson::millis(v).ok_or("lastSeen must be a time (unix milliseconds)")?),
    };
    let auth_level = match doc.get("authLevel") {
        None | Some(Value::Null) => USER,
        Some(v) => ejson::int(v).ok_or("authLevel must be an integer")?,
    };
    if !(BANNED..=ADMIN).contains(&auth_level) {
        return Err(format!("authLevel must be 0 (banned), 1 (user), 2 (mod) or 3 (admin), got {auth_level}"));
    }
    let is_supporter = match doc.get("isSupporter") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isSupporter must be true or false".into()),
    };
    let pictures = ["customPfpLocation", "customBannerLocation"].map(|name| {
        let value = optional_string(doc, name)?;
        if let Some(v) = value {
            plain_text(name, v)?;
        }
        Ok::<_, Reason>(value.map(str::to_owned))
    });
    let [custom_pfp_location, custom_banner_location] = pictures;
    Ok(ImportedUser {
        id,
        username: username.to_owned(),
        username_key: user::username_key(username),
        about: about.to_owned(),
        status: status.map(str::to_owned),
        is_admin: auth_level == ADMIN,
        is_banned: auth_level == BANNED,
        is_moderator: auth_level == MOD,
        created_at: join_date,
        last_seen,
        social_media: social_media(doc)?,
        badges: badges(doc)?,
        custom_pfp_location: custom_pfp_location?,
        custom_banner_location: custom_banner_location?,
        is_supporter,
    })
}

/// `socialMedia`: an object of strings or nulls (`{"discord": "…", …}`), kept
/// as JSON text.
fn social_media(doc: &Doc) -> Result<String, Reason> {
    let links = match doc.get("socialMedia") {
        None | Some(Value::Null) => return Ok("{}".into()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err("socialMedia must be an object".into()),
    };
    if links.values().any(|v| !(v.is_string() || v.is_null())) {
        return Err("socialMedia must hold only strings or nulls".into());
    }
    Ok(Value::Object(links.clone()).to_string())
}

/// `badges`: a list of badge names, kept as JSON text.
fn badges(doc: &Doc) -> Result<String, Reason> {
    let list = match doc.get("badges") {
        None | Some(Value::Null) => return Ok("[]".into()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("badges must be a list".into()),
    };
    if !list.iter().all(Value::is_string) {
        return Err("badges must be a list of names".into());
    }
    Ok(Value::Array(list.clone()).to_string())
}

/// A `user-private-information` document (Tachi's `PrivateUserInfoDocument`):
/// the e-mail and the bcrypt hash of the password, kept as it is.
pub fn login(doc: &Doc) -> Result<ImportedLogin, Reason> {
    let user_id = integer(doc, "userID")?;
    let email = string(doc, "email")?;
    user::check_email(email).map_err(|e| e.to_string())?;
    let password_hash = string(doc, "password")?;
    // 60 characters: $2a$NN$ then 53 of salt and hash.
    if !(password::is_bcrypt(password_hash) && password_hash.len() == 60 && password_hash.is_ascii()) {
        return Err("password is not a bcrypt hash ($2a$ or $2b$, 60 characters)".into());
    }
    Ok(ImportedLogin { user_id, email: email.to_owned(), password_hash: password_hash.to_owned() })
}

/// An `api-clients` document (Tachi's `TachiAPIClientDocument`). Its
/// `clientSecret` is hashed here, as tachi-auth stores its own. A client
/// whose id starts with `CX` is one of Tachi's built-in clients: it is
/// imported as a built-in client of tachi-auth (no author; the operator's
/// configuration may redefine it).
///
/// Returns the record and the author named by the document (`None` for a
/// built-in client).
pub fn client(doc: &Doc, now: i64) -> Result<(Client, Option<i64>), Reason> {
    let client_id = string(doc, "clientID")?;
    let builtin = client_id.starts_with("CX");
    let id_ok = is_well_formed_id(client_id)
        && client_id.len() <= 64
        && (builtin || client_id.starts_with("CI"))
        && client_id.len() > 2;
    if !id_ok {
        return Err(format!(
            "clientID '{}' is not a client id (CI or CX, then up to 62 letters, digits, '_' or '-')",
            printable(client_id)
        ));
    }
    let secret = string(doc, "clientSecret")?;
    if secret.is_empty() || secret.len() > 256 || secret.chars().any(char::is_control) {
        return Err("clientSecret must be 1 to 256 characters without control characters".into());
    }
    let author = if builtin { None } else { Some(integer(doc, "author")?) };
    let permissions = match field(doc, "requestedPermissions")? {
        Value::Array(names) => {
            let names: Vec<&str> = names
                .iter()
                .map(|n| n.as_str().ok_or("requestedPermissions must be a list of permission names"))
                .collect::<Result<_, _>>()?;
            PermissionSet::parse_list(&names).map_err(|e| format!("requestedPermissions: {e}"))?
        }
        _ => return Err("requestedPermissions must be a list of permission names".into()),
    };
    let optional = |name: &str, parse: &dyn Fn(&str) -> Result<String, crate::domain::Invalid>| {
        optional_string(doc, name)?.map(|v| parse(v).map_err(|e| format!("{name}: {e}"))).transpose()
    };
    let record = Client {
        client_id: client_id.to_owned(),
        secret_hash: PlainSecret::from_presented(secret).hash(),
        name: ClientName::parse(string(doc, "name")?).map_err(|e| format!("name: {e}"))?.as_str().to_owned(),
        author_id: author,
        redirect_uri: optional("redirectUri", &client::parse_redirect_uri)?,
        webhook_uri: optional("webhookUri", &|v| client::parse_http_url("webhookUri", v))?,
        permissions: client::check_requested_permissions(permissions)
            .map_err(|e| format!("requestedPermissions: {e}"))?,
        api_key_format: optional("apiKeyTemplate", &client::parse_api_key_format)?,
        api_key_filename: optional("apiKeyFilename", &client::parse_api_key_filename)?,
        require_pkce: false,
        public: false,
        grants: client::Grants::DEFAULT,
        created_at: created_at(doc, now),
    };
    Ok((record, author))
}

/// An `api-tokens` document (Tachi's `APITokenDocument`) and the client it
/// names (`fromAPIClient`; older documents say `fromOAuth2Client`).
pub struct Key {
    pub record: ImportedKey,
    /// A hash of the token, to find two documents with one token.
    pub token_fingerprint: u128,
}

/// Hex digits of a Tachi token (`Random20Hex`: 20 random bytes).
const TOKEN_DIGITS: usize = 40;

pub fn key(doc: &Doc, now: i64) -> Result<Key, Reason> {
    let user_id = integer(doc, "userID").map_err(|e| {
        if e.ends_with("is null") { "userID is null: a key of no user cannot be carried over".into() } else { e }
    })?;
    let token = string(doc, "token")?;
    let shaped = token.len() == TOKEN_DIGITS && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !shaped {
        return Err(format!("token is not {TOKEN_DIGITS} lowercase hexadecimal digits, as Tachi makes them"));
    }
    let identifier = string(doc, "identifier")?;
    if identifier.chars().count() > 200 {
        return Err("identifier is longer than 200 characters".into());
    }
    plain_text("identifier", identifier)?;
    let permissions = match field(doc, "permissions")? {
        Value::Object(map) => {
            let mut set = PermissionSet::EMPTY;
            for (name, granted) in map {
                let p: Permission = name.parse().map_err(|e| format!("permissions: {e}"))?;
                match granted {
                    Value::Bool(true) => set = set.with(p),
                    Value::Bool(false) => {}
                    _ => return Err(format!("permissions: {name} must be true or false")),
                }
            }
            set
        }
        _ => return Err("permissions must be an object of {permission: true}".into()),
    };
    let client_id = match optional_string(doc, "fromAPIClient")? {
        Some(c) => Some(c),
        None => optional_string(doc, "fromOAuth2Client")?,
    };
    if let Some(c) = client_id
        && !is_well_formed_id(c)
    {
        return Err(format!("fromAPIClient '{}' is not a client id", printable(c)));
    }
    let token_hash = PlainSecret::from_presented(token).hash();
    let fingerprint = u128::from_be_bytes(token_hash.as_bytes()[..16].try_into().expect("32 bytes"));
    Ok(Key {
        record: ImportedKey {
            id: key_id(doc, token),
            token_hash,
            user_id,
            identifier: identifier.to_owned(),
            permissions,
            client_id: client_id.map(str::to_owned),
            created_at: created_at(doc, now),
        },
        token_fingerprint: fingerprint,
    })
}

/// An imported key's id: `AK` and 40 hex digits, as every key id. Tachi's
/// keys have none but their ObjectId, whose 24 digits begin with its
/// creation time, so ids sort as keys were made; padded to 40. A document
/// without an ObjectId gets digits of a hash of its token instead (not of
/// the token: an id is shown, a token never).
fn key_id(doc: &Doc, token: &str) -> String {
    match doc.get("_id").and_then(ejson::object_id) {
        Some(oid) => format!("AK{}0000000000000000", oid.to_ascii_lowercase()),
        None => {
            let digest = Sha256::digest(format!("tachi-auth imported key id:{token}").as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("AK{}", &hex[..TOKEN_DIGITS])
        }
    }
}

/// A value from a document, shortened and with control characters shown
/// escaped, to quote in a message.
fn printable(value: &str) -> String {
    let short: String = value.chars().take(40).collect();
    let mut out: String = short.escape_debug().collect();
    if value.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Doc {
        match v {
            Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    fn tachi_user() -> Value {
        json!({
            "_id": {"$oid": "60b6206000000000000000aa"},
            "username": "zkldi", "usernameLowercase": "zkldi", "id": {"$numberInt": "1"},
            "socialMedia": {"discord": "zkldi#0001", "twitter": null},
            "joinDate": {"$numberLong": "1622548800000"}, "lastSeen": 1_622_548_900_000_i64,
            "about": "I'm a fairly nondescript person.", "status": null,
            "customPfpLocation": null, "customBannerLocation": "banners/1.png",
            "badges": ["alpha", "dev-team"], "authLevel": {"$numberInt": "3"}, "isSupporter": true
        })
    }

    #[test]
    fn a_user_document_keeps_its_profile() {
        let u = user(&doc(tachi_user())).unwrap();
        assert_eq!((u.id, u.username.as_str(), u.username_key.as_str()), (1, "zkldi", "zkldi"));
        assert_eq!((u.created_at, u.last_seen), (1_622_548_800_000, Some(1_622_548_900_000)));
        assert!(u.is_admin && !u.is_banned && !u.is_moderator && u.is_supporter);
        assert_eq!(u.social_media, r#"{"discord":"zkldi#0001","twitter":null}"#);
        assert_eq!(u.badges, r#"["alpha","dev-team"]"#);
        assert_eq!(u.custom_banner_location.as_deref(), Some("banners/1.png"));
        assert_eq!(u.custom_pfp_location, None);
    }

    #[test]
    fn auth_levels_map_to_banned_mod_and_admin() {
        for (level, (banned, moderator, admin)) in [
            (0, (true, false, false)),
            (1, (false, false, false)),
            (2, (false, true, false)),
            (3, (false, false, true)),
        ] {
            let mut d = doc(tachi_user());
            d.insert("authLevel".into(), json!(level));
            let u = user(&d).unwrap();
            assert_eq!((u.is_banned, u.is_moderator, u.is_admin), (banned, moderator, admin), "{level}");
        }
    }

    #[test]
    fn bad_user_documents_say_what_is_wrong() {
        let cases: [(&str, Value, &str); 7] = [
            ("id", Value::Null, "id is null"),
            ("id", json!("1"), "id must be an integer"),
            ("id", json!(0), "positive"),
            ("username", json!("a b"), "username 'a b'"),
            ("joinDate", json!("yesterday"), "joinDate"),
            ("authLevel", json!(4), "authLevel"),
            ("socialMedia", json!({"discord": 5}), "socialMedia"),
        ];
        for (name, value, expected) in cases {
            let mut d = doc(tachi_user());
            d.insert(name.into(), value);
            let e = user(&d).err().unwrap_or_else(|| panic!("{name} accepted"));
            assert!(e.contains(expected), "{name}: {e}");
        }
        let mut d = doc(tachi_user());
        d.remove("username");
        assert_eq!(user(&d).err().unwrap(), "username is missing");
    }

    #[test]
    fn a_private_document_needs_an_email_and_a_bcrypt_hash() {
        let hash = format!("$2a$12${}", "a".repeat(53));
        let l = login(&doc(json!({"userID": 1, "email": "z@example.org", "password": hash}))).unwrap();
        assert_eq!((l.user_id, l.email.as_str(), l.password_hash.as_str()), (1, "z@example.org", hash.as_str()));
        let e = login(&doc(json!({"userID": 1, "email": "z@example.org", "password": "hunter22"}))).err().unwrap();
        assert!(e.contains("not a bcrypt hash") && !e.contains("hunter22"), "{e}");
        assert!(login(&doc(json!({"userID": 1, "email": "nope", "password": hash}))).is_err());
    }

    fn tachi_client() -> Value {
        json!({
            "_id": {"$oid": "60b6206000000000000000ab"},
            "clientID": format!("CI{}", "1".repeat(40)), "clientSecret": format!("CS{}", "2".repeat(40)),
            "name": "Kamaitachi Bot", "author": 1, "requestedPermissions": ["submit_score", "customise_profile"],
            "redirectUri": "https://bot.example/callback", "webhookUri": null,
            "apiKeyTemplate": "{\"key\": \"%%TACHI_KEY%%\"}", "apiKeyFilename": "bot.json"
        })
    }

    #[test]
    fn a_client_document_keeps_its_fields_and_hashes_its_secret() {
        let (c, author) = client(&doc(tachi_client()), 5).unwrap();
        assert_eq!(author, Some(1));
        assert_eq!(c.author_id, Some(1));
        assert!(c.secret_hash.matches(&PlainSecret::from_presented(format!("CS{}", "2".repeat(40)))));
        assert_eq!(c.permissions.names(), ["submit_score", "customise_profile"]);
        assert_eq!(c.api_key_format.as_deref(), Some("{\"key\": \"%%TACHI_KEY%%\"}"));
        assert_eq!((c.api_key_filename.as_deref(), c.created_at), (Some("bot.json"), 0x60b6_2060 * 1000));

        let mut builtin = doc(tachi_client());
        builtin.insert("clientID".into(), json!("CXKsHook"));
        builtin.insert("redirectUri".into(), Value::Null);
        let (c, author) = client(&builtin, 5).unwrap();
        assert_eq!((c.author_id, author), (None, None));
    }

    #[test]
    fn bad_client_documents_say_what_is_wrong_without_the_secret() {
        let cases: [(&str, Value, &str); 6] = [
            ("clientID", json!("XX123"), "clientID"),
            ("requestedPermissions", json!(["fly"]), "unknown permission 'fly'"),
            ("requestedPermissions", json!([]), "at least one"),
            ("redirectUri", json!("javascript:alert(1)"), "redirectUri"),
            ("apiKeyFilename", json!("run.exe"), "apiKeyFilename"),
            ("clientSecret", json!(""), "clientSecret"),
        ];
        for (name, value, expected) in cases {
            let mut d = doc(tachi_client());
            d.insert(name.into(), value);
            let e = client(&d, 0).err().unwrap_or_else(|| panic!("{name} accepted"));
            assert!(e.contains(expected), "{name}: {e}");
            assert!(!e.contains(&"2".repeat(40)), "{e}");
        }
    }

    fn tachi_key() -> Value {
        json!({
            "_id": {"$oid": "60b6206000000000000000ac"},
            "userID": 1, "token": "0123456789abcdef0123456789abcdef01234567", "identifier": "Kamaitachi Bot Token",
            "permissions": {"submit_score": true, "customise_profile": true, "delete_score": false},
            "fromAPIClient": "CIabc"
        })
    }

    #[test]
    fn a_key_document_keeps_its_permissions_and_client_and_only_its_tokens_hash() {
        let k = key(&doc(tachi_key()), 0).unwrap().record;
        assert_eq!(k.id, "AK60b6206000000000000000ac0000000000000000");
        assert_eq!(k.id.len(), 42);
        assert_eq!(k.token_hash, PlainSecret::from_presented("0123456789abcdef0123456789abcdef01234567").hash());
        assert_eq!(k.permissions.names(), ["submit_score", "customise_profile"]);
        assert_eq!(k.client_id.as_deref(), Some("CIabc"));

        let mut older = doc(tachi_key());
        older.remove("fromAPIClient");
        older.insert("fromOAuth2Client".into(), json!("CIold"));
        older.remove("_id");
        let k = key(&older, 9).unwrap().record;
        assert_eq!((k.client_id.as_deref(), k.created_at), (Some("CIold"), 9));
        assert!(k.id.starts_with("AK") && k.id.len() == 42 && !k.id.contains("0123456789abcdef"));
    }

    #[test]
    fn bad_key_documents_say_what_is_wrong_without_the_token() {
        let cases: [(&str, Value, &str); 5] = [
            ("userID", Value::Null, "a key of no user"),
            ("token", json!("0123456789ABCDEF0123456789ABCDEF01234567"), "hexadecimal"),
            ("token", Value::Null, "token is null"),
            ("permissions", json!({"fly": true}), "unknown permission 'fly'"),
            ("permissions", json!(["submit_score"]), "permissions must be an object"),
        ];
        for (name, value, expected) in cases {
            let mut d = doc(tachi_key());
            d.insert(name.into(), value);
            let e = key(&d, 0).err().unwrap_or_else(|| panic!("{name} accepted"));
            assert!(e.contains(expected), "{name}: {e}");
            assert!(!e.contains("0123456789"), "{e}");
        }
    }
}
