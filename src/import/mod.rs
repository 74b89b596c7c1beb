//! `tachi-auth import`: a running Tachi's accounts, API clients and API keys,
//! from `mongoexport`'s files of four collections, into tachi-auth's records.
//!
//! Two passes over the files, each streamed a line at a time:
//! 1. **Check**: every document is read and checked, alone (`documents`) and
//!    against the others (ids and usernames taken twice, a client's author,
//!    a key's user and client). What is kept meanwhile is a few sets of ids,
//!    never the documents. Then the database: it may hold nothing but this
//!    export's own users (an earlier run of the same import).
//! 2. **Write**: the valid documents again, in one transaction, a batch of
//!    rows per statement; rows already stored are skipped. A dry run ends by
//!    rolling it back.
//!
//! The report goes to standard output; progress to standard error.

mod documents;
mod ejson;
mod progress;
mod source;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use crate::domain::Client;
use crate::domain::now_ms;
use crate::storage::{ImportedKey, ImportedLogin, ImportedUser, Importer, Store, StoreError};
use progress::Progress;
use source::{Next, Source};

/// The four collections, in the order they are read: each is checked
/// against those before it.
pub const USERS: &str = "users.json";
pub const LOGINS: &str = "user-private-information.json";
pub const CLIENTS: &str = "api-clients.json";
pub const KEYS: &str = "api-tokens.json";
const FILES: [&str; 4] = [USERS, LOGINS, CLIENTS, KEYS];

/// Rows per statement (see `storage::import`).
const BATCH: usize = crate::storage::IMPORT_BATCH;

/// Notes (keys whose client is gone) printed one by one; past this, counted.
const NOTES_SHOWN: u64 = 20;

#[derive(Debug, Clone)]
pub struct Options {
    /// The folder holding the four files.
    pub from: PathBuf,
    /// Import the valid documents when some are invalid (else: write nothing).
    pub skip_invalid: bool,
    /// Check and count everything, then write nothing.
    pub dry_run: bool,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file missing or unreadable, or not an export.
    #[error("{0}")]
    Unreadable(String),
    /// Invalid documents (listed in the report), without `--skip-invalid`.
    #[error(
        "{0} invalid document(s): nothing was written. Fix them, or run again with --skip-invalid to import the rest"
    )]
    Invalid(u64),
    /// The database holds users this export does not have.
    #[error("{0}")]
    Refused(String),
    #[error("{0}: nothing was written")]
    Database(#[from] StoreError),
}

/// How many rows an import wrote, and how many it found already stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: (u64, u64),
    pub clients: (u64, u64),
    pub keys: (u64, u64),
}

/// The database's URL without its password, to name it in the report.
pub fn describe_database(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Runs the import into `store` and prints its report.
pub async fn run(store: &Store, opts: &Options, database: &str) -> Result<Counts, ImportError> {
    let started = Instant::now();
    println!("Importing the Tachi export in {} into {database}", opts.from.display());
    if opts.dry_run {
        println!("Dry run: nothing will be written.");
    }
    let mut sources = open_all(opts)?;
    let mut check = Check::default();
    let mut progress = Progress::new();
    check.run(store, &mut sources, &mut progress).await?;
    progress.clear();
    let documents: u64 = check.documents.iter().sum();
    println!(
        "Checked {documents} documents in {:.1} s: {} invalid{}.",
        started.elapsed().as_secs_f64(),
        check.invalid,
        if check.dangling > 0 {
            format!(", {} key(s) whose client no longer exists", check.dangling)
        } else {
            String::new()
        }
    );

    check.stored_users(store).await?;
    if check.invalid > 0 && !opts.skip_invalid {
        return Err(ImportError::Invalid(check.invalid));
    }

    let writing = Instant::now();
    let mut sources = open_all(opts)?;
    let mut importer = store.begin_import().await?;
    let written = check.write(&mut importer, &mut sources, &mut progress).await?;
    progress.clear();
    if opts.dry_run {
        importer.rollback().await?;
    } else {
        importer.commit().await?;
    }
    let counts = Counts {
        users: (written[0], check.valid_users() - written[0]),
        clients: (written[1], check.clients.len() as u64 - written[1]),
        keys: (written[2], check.valid_keys - written[2]),
    };
    report(&counts, opts, documents, started, writing);
    Ok(counts)
}

/// The four files, each read from its start.
fn open_all(opts: &Options) -> Result<Vec<Source>, ImportError> {
    FILES.iter().map(|name| Source::open(&opts.from, name).map_err(ImportError::Unreadable)).collect()
}

fn report(counts: &Counts, opts: &Options, documents: u64, started: Instant, writing: Instant) {
    let total = started.elapsed().as_secs_f64();
    let new = counts.users.0 + counts.clients.0 + counts.keys.0;
    let writing = writing.elapsed().as_secs_f64();
    if new == 0 {
        println!(
            "Nothing new: the database already holds every valid document of this export. {}",
            if opts.dry_run { "Nothing would change." } else { "Nothing was changed." }
        );
    } else if opts.dry_run {
        println!("Would import (written and rolled back in {writing:.1} s):");
    } else {
        println!("Imported in {writing:.1} s:");
    }
    for (what, (added, present)) in
        [("users", counts.users), ("API clients", counts.clients), ("API keys", counts.keys)]
    {
        println!("  {what:<12} {added:>9} new, {present} already present");
    }
    println!(
        "Done in {total:.1} s ({:.0} documents/s).{}",
        documents as f64 / total.max(0.001),
        if opts.dry_run { " Dry run: nothing was written." } else { "" }
    );
}

/// What the check pass keeps: ids and lines, not documents.
#[derive(Default)]
struct Check {
    /// Importable users: id → line in users.json.
    users: HashMap<i64, u64>,
    /// Their username keys (lowercase) → id.
    usernames: HashMap<String, i64>,
    /// Users with an importable private document: id → its line.
    logins: HashMap<i64, u64>,
    /// Importable clients: id → line in api-clients.json.
    clients: HashMap<String, u64>,
    /// Clients a key names that are not in the export: stored already?
    stored_clients: HashMap<String, bool>,
    /// First 128 bits of each importable key's token hash.
    tokens: HashSet<u128>,
    valid_keys: u64,
    /// Lines not to import, per file (in `FILES` order).
    skip: [HashSet<u64>; 4],
    documents: [u64; 4],
    invalid: u64,
    dangling: u64,
}

impl Check {
    async fn run(&mut self, store: &Store, sources: &mut [Source], progress: &mut Progress) -> Result<(), ImportError> {
        let now = now_ms();
        for (file, source) in sources.iter_mut().enumerate() {
            loop {
                let next = source.next().map_err(ImportError::Unreadable)?;
                progress.update("checking", source.name, source.read, source.size, self.documents[file]);
                let (line, doc) = match next {
                    Next::End => break,
                    Next::Bad(line, reason) => {
                        self.documents[file] += 1;
                        self.reject(progress, file, line, &reason);
                        continue;
                    }
                    Next::Doc(line, doc) => (line, doc),
                };
                self.documents[file] += 1;
                let verdict = match FILES[file] {
                    USERS => self.check_user(&doc, line),
                    LOGINS => self.check_login(&doc, line),
                    CLIENTS => self.check_client(&doc, line, now),
                    _ => self.check_key(store, &doc, now, progress, line).await?,
                };
                if let Err(reason) = verdict {
                    self.reject(progress, file, line, &reason);
                }
            }
            if FILES[file] == LOGINS {
                self.users_without_login(progress);
            }
        }
        Ok(())
    }

    fn reject(&mut self, progress: &mut Progress, file: usize, line: u64, reason: &str) {
        if self.invalid == 0 {
            progress.clear();
            println!("Invalid documents (file:line: reason):");
        }
        self.invalid += 1;
        self.skip[file].insert(line);
        progress.clear();
        println!("  {}:{line}: {reason}", FILES[file]);
    }

    fn check_user(&mut self, doc: &ejson::Doc, line: u64) -> Result<(), String> {
        let u = documents::user(doc)?;
        if let Some(other) = self.users.get(&u.id) {
            return Err(format!("id {} is also the id of the user on line {other}", u.id));
        }
        if let Some(other) = self.usernames.get(&u.username_key) {
            return Err(format!("username '{}' is taken by user {other} (line {})", u.username, self.users[other]));
        }
        self.users.insert(u.id, line);
        self.usernames.insert(u.username_key, u.id);
        Ok(())
    }

    fn check_login(&mut self, doc: &ejson::Doc, line: u64) -> Result<(), String> {
        let l = documents::login(doc)?;
        if !self.users.contains_key(&l.user_id) {
            return Err(format!("userID {} is not an importable user of {USERS}", l.user_id));
        }
        if let Some(other) = self.logins.get(&l.user_id) {
            return Err(format!("user {} already has a document, on line {other}", l.user_id));
        }
        self.logins.insert(l.user_id, line);
        Ok(())
    }

    /// Users without an importable private document have no password and
    /// no e-mail: they are not imported either.
    fn users_without_login(&mut self, progress: &mut Progress) {
        let mut orphans: Vec<(u64, i64)> =
            self.users.iter().filter(|(id, _)| !self.logins.contains_key(id)).map(|(id, line)| (*line, *id)).collect();
        orphans.sort_unstable();
        for (line, id) in &orphans {
            self.users.remove(id);
            let reason = format!("user {id} has no importable document in {LOGINS} (no e-mail, no password)");
            self.reject(progress, 0, *line, &reason);
        }
        if !orphans.is_empty() {
            let users = &self.users;
            self.usernames.retain(|_, id| users.contains_key(id));
        }
    }

    fn check_client(&mut self, doc: &ejson::Doc, line: u64, now: i64) -> Result<(), String> {
        let (client, author) = documents::client(doc, now)?;
        if let Some(other) = self.clients.get(&client.client_id) {
            return Err(format!("clientID {} is also the id of the client on line {other}", client.client_id));
        }
        if let Some(author) = author
            && !self.users.contains_key(&author)
        {
            return Err(format!("author {author} is not an importable user of {USERS}"));
        }
        self.clients.insert(client.client_id, line);
        Ok(())
    }

    async fn check_key(
        &mut self,
        store: &Store,
        doc: &ejson::Doc,
        now: i64,
        progress: &mut Progress,
        line: u64,
    ) -> Result<Result<(), String>, ImportError> {
        let key = match documents::key(doc, now) {
            Ok(k) => k,
            Err(reason) => return Ok(Err(reason)),
        };
        if !self.users.contains_key(&key.record.user_id) {
            return Ok(Err(format!("userID {} is not an importable user of {USERS}", key.record.user_id)));
        }
        if !self.tokens.insert(key.token_fingerprint) {
            return Ok(Err("its token is also the token of an earlier document".into()));
        }
        if let Some(client) = &key.record.client_id
            && !self.client_exists(store, client).await?
        {
            self.dangling += 1;
            if self.dangling <= NOTES_SHOWN {
                progress.clear();
                println!(
                    "Note: {KEYS}:{line}: its client {client} no longer exists; the key is imported as a key of no client."
                );
            }
        }
        self.valid_keys += 1;
        Ok(Ok(()))
    }

    /// Is `client` among the export's clients, or stored already (e.g. a
    /// built-in client of the operator's configuration)?
    async fn client_exists(&mut self, store: &Store, client: &str) -> Result<bool, StoreError> {
        if self.clients.contains_key(client) {
            return Ok(true);
        }
        if let Some(stored) = self.stored_clients.get(client) {
            return Ok(*stored);
        }
        let stored = store.client_by_id(client).await?.is_some();
        self.stored_clients.insert(client.to_owned(), stored);
        Ok(stored)
    }

    fn known_client(&self, client: &str) -> bool {
        self.clients.contains_key(client) || self.stored_clients.get(client).copied().unwrap_or(false)
    }

    fn valid_users(&self) -> u64 {
        self.users.len() as u64
    }

    /// The users the database holds already, which must all be this
    /// export's (same id, same username): tachi-auth ids are Tachi's, and
    /// two accounts cannot be merged.
    async fn stored_users(&self, store: &Store) -> Result<(), ImportError> {
        let (mut ours, mut others, mut examples) = (0u64, 0u64, Vec::new());
        store
            .each_user(|id, key| {
                if self.usernames.get(key) == Some(&id) {
                    ours += 1;
                } else {
                    others += 1;
                    if examples.len() < 5 {
                        examples.push(format!("id {id} '{key}'"));
                    }
                }
            })
            .await?;
        if others > 0 {
            return Err(ImportError::Refused(format!(
                "refused: the database already has {others} user(s) that are not in this export ({}{}). \
                 tachi-auth import keeps Tachi's user ids, so it only fills a database that has no users \
                 of its own: import into a new database (a new SQLite file, or an empty PostgreSQL database). \
                 Nothing was written.",
                examples.join(", "),
                if others > examples.len() as u64 { ", …" } else { "" }
            )));
        }
        if ours > 0 {
            println!(
                "The database already holds {ours} user(s) of this export (an earlier import): they are kept as they are."
            );
        }
        Ok(())
    }

    /// The write pass: returns how many users, clients and keys were written.
    async fn write(
        &self,
        importer: &mut Importer,
        sources: &mut [Source],
        progress: &mut Progress,
    ) -> Result<[u64; 3], ImportError> {
        let now = now_ms();
        let mut written = [0u64; 3];
        let mut users: Vec<ImportedUser> = Vec::with_capacity(BATCH);
        let mut logins: Vec<ImportedLogin> = Vec::with_capacity(BATCH);
        let mut clients: Vec<Client> = Vec::with_capacity(BATCH);
        let mut keys: Vec<ImportedKey> = Vec::with_capacity(BATCH);
        let changed =
            |name: &str| ImportError::Unreadable(format!("{name} changed while it was imported: nothing was written"));
        for (file, source) in sources.iter_mut().enumerate() {
            let mut done = 0;
            loop {
                let next = source.next().map_err(ImportError::Unreadable)?;
                progress.update("writing", source.name, source.read, source.size, done);
                let doc = match next {
                    Next::End => break,
                    Next::Bad(line, _) if self.skip[file].contains(&line) => continue,
                    Next::Bad(..) => return Err(changed(source.name)),
                    Next::Doc(line, _) if self.skip[file].contains(&line) => continue,
                    Next::Doc(_, doc) => doc,
                };
                done += 1;
                match FILES[file] {
                    USERS => {
                        users.push(documents::user(&doc).map_err(|_| changed(USERS))?);
                        if users.len() == BATCH {
                            written[0] += importer.insert_users(&users).await?;
                            users.clear();
                        }
                    }
                    LOGINS => {
                        logins.push(documents::login(&doc).map_err(|_| changed(LOGINS))?);
                        if logins.len() == BATCH {
                            importer.set_logins(&logins).await?;
                            logins.clear();
                        }
                    }
                    CLIENTS => {
                        clients.push(documents::client(&doc, now).map_err(|_| changed(CLIENTS))?.0);
                        if clients.len() == BATCH {
                            written[1] += importer.insert_clients(&clients).await?;
                            clients.clear();
                        }
                    }
                    _ => {
                        let mut key = documents::key(&doc, now).map_err(|_| changed(KEYS))?.record;
                        if key.client_id.as_deref().is_some_and(|c| !self.known_client(c)) {
                            key.client_id = None;
                        }
                        keys.push(key);
                        if keys.len() == BATCH {
                            written[2] += importer.insert_keys(&keys).await?;
                            keys.clear();
                        }
                    }
                }
            }
            // The rest of this file's batch, before the next file (which refers to it).
            match FILES[file] {
                USERS if !users.is_empty() => written[0] += importer.insert_users(&users).await?,
                LOGINS if !logins.is_empty() => {
                    importer.set_logins(&logins).await?;
                }
                CLIENTS if !clients.is_empty() => written[1] += importer.insert_clients(&clients).await?,
                KEYS if !keys.is_empty() => written[2] += importer.insert_keys(&keys).await?,
                _ => {}
            }
        }
        Ok(written)
    }
}
