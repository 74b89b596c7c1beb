//! A Tachi instance's data as `mongoexport` writes it: the documents of
//! `users`, `user-private-information`, `api-clients` and `api-tokens` in the
//! shapes of Tachi's `common/src/types/documents.ts`, one Extended JSON v2
//! document per line, in `DIR/<collection>.json`.
//!
//! Used by the import tests (tests/it/import.rs) and, through `#[path]`, by
//! the import benchmark (examples/bench_import.rs), which writes 100 000 users.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The four files, as `tachi-auth import --from DIR` reads them.
pub const FILES: [&str; 4] = ["users.json", "user-private-information.json", "api-clients.json", "api-tokens.json"];

/// How mongoexport writes numbers and dates: relaxed (its default: plain
/// numbers, ISO dates) or canonical (`--jsonFormat=canonical`: every number
/// wrapped, `{"$numberInt": "1"}`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Relaxed,
    Canonical,
}

/// An integer as mongoexport writes it in `format` (Tachi's ids and times
/// are JavaScript numbers: int32 when they fit, else double or int64).
pub fn int(format: Format, n: i64) -> Value {
    match format {
        Format::Relaxed => json!(n),
        Format::Canonical if i32::try_from(n).is_ok() => json!({ "$numberInt": n.to_string() }),
        Format::Canonical => json!({ "$numberLong": n.to_string() }),
    }
}

/// The `n`th ObjectId of a collection, made at `unix_seconds`.
pub fn object_id(unix_seconds: u32, n: u64) -> Value {
    json!({ "$oid": format!("{unix_seconds:08x}{n:016x}") })
}

/// A bcrypt hash as bcryptjs writes it (`$2a$`), made by a real bcrypt
/// implementation. Tachi uses cost 12; tests pass a low cost to stay fast
/// (the format, and how it is verified, do not change with the cost).
pub fn bcrypt_hash(password: &str, cost: u32) -> String {
    bcrypt::hash_with_result(password, cost).expect("bcrypt hashes").format_for_version(bcrypt::Version::TwoA)
}

/// A Tachi `UserDocument` as `AddNewUser` makes it, with a profile filled in.
pub fn user(format: Format, id: i64, username: &str, joined_ms: i64) -> Value {
    json!({
        "_id": object_id((joined_ms / 1000) as u32, id as u64),
        "username": username,
        "usernameLowercase": username.to_lowercase(),
        "id": int(format, id),
        "socialMedia": { "discord": format!("{username}#0001"), "twitter": null },
        "joinDate": int(format, joined_ms),
        "lastSeen": int(format, joined_ms + 86_400_000),
        "about": "I'm a fairly nondescript person.",
        "status": null,
        "customBannerLocation": null,
        "customPfpLocation": null,
        "authLevel": int(format, 1),
        "badges": [],
    })
}

/// A `PrivateUserInfoDocument`.
pub fn private(format: Format, id: i64, email: &str, bcrypt: &str) -> Value {
    json!({ "_id": object_id(1_600_000_000, id as u64), "userID": int(format, id), "email": email, "password": bcrypt })
}

/// A `TachiAPIClientDocument`, as `POST /api/v1/clients/create` makes it.
#[allow(clippy::too_many_arguments)]
pub fn client(
    n: u64,
    client_id: &str,
    secret: &str,
    name: &str,
    author: i64,
    permissions: &[&str],
    redirect_uri: Option<&str>,
    key_file: Option<(&str, &str)>,
) -> Value {
    json!({
        "_id": object_id(1_610_000_000, n),
        "clientID": client_id,
        "clientSecret": secret,
        "name": name,
        "author": author,
        "requestedPermissions": permissions,
        "redirectUri": redirect_uri,
        "webhookUri": null,
        "apiKeyTemplate": key_file.map(|(template, _)| template),
        "apiKeyFilename": key_file.map(|(_, filename)| filename),
    })
}

/// An `APITokenDocument`, as the token exchange or the Client File Flow makes it.
pub fn token(
    format: Format,
    n: u64,
    user_id: i64,
    token: &str,
    identifier: &str,
    permissions: &[&str],
    client: Option<&str>,
) -> Value {
    let permissions: serde_json::Map<String, Value> = permissions.iter().map(|p| ((*p).into(), json!(true))).collect();
    json!({
        "_id": object_id(1_620_000_000, n),
        "userID": int(format, user_id),
        "token": token,
        "identifier": identifier,
        "permissions": permissions,
        "fromAPIClient": client,
    })
}

/// 20 random bytes in hex, as Tachi's `Random20Hex` makes tokens and ids.
pub fn random20hex() -> String {
    tachi_auth::domain::secret::random_id("")
}

/// Writes one collection's documents, one per line, into `dir/name`.
pub fn write(dir: &Path, name: &str, docs: impl IntoIterator<Item = Value>) -> PathBuf {
    let path = dir.join(name);
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("create an export file"));
    for doc in docs {
        serde_json::to_writer(&mut out, &doc).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    path
}

/// Writes raw lines (e.g. broken documents) into `dir/name`.
pub fn write_lines(dir: &Path, name: &str, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join(name), text).unwrap();
}
