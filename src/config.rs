//! Command line, environment and config file: every setting is a flag, a
//! `TACHI_AUTH_<NAME>` variable and a key of the `--config` file (see
//! `file`). A value out of its range is refused, naming the setting and the
//! range, rather than silently changed.

pub mod file;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::service::limits::LimitSettings;
use crate::service::{AccountSettings, Settings, WebhookSettings};
use crate::storage::PoolSettings;

#[derive(Debug, Parser)]
#[command(name = "tachi-auth", version, about = "OAuth2 and API-key service of a Tachi instance")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up; boxing buys nothing
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Operator actions on a user account (admin, ban, reset link, sessions, keys).
    User(UserArgs),
    /// Import a Tachi instance's users, API clients and API keys from
    /// mongoexport's files (see the README's "Moving from Tachi").
    Import(ImportArgs),
    /// Print the security log as JSON lines, oldest first.
    Audit(AuditArgs),
    /// Check a config file (`serve --config FILE`) without starting.
    Config(ConfigArgs),
    /// Copy a live SQLite database to a new file, checked; for PostgreSQL,
    /// print the pg_dump command.
    Backup(BackupArgs),
    /// Replace a stopped server's SQLite database with a backup, checked
    /// first; for PostgreSQL, print the pg_restore command.
    Restore(RestoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup to restore (made by `tachi-auth backup`, or any copy of a
    /// tachi-auth SQLite database).
    #[arg(long, value_name = "FILE")]
    pub from: std::path::PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The new file to write the copy to (never overwritten).
    #[arg(long, value_name = "FILE")]
    pub to: std::path::PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ConfigAction {
    /// Validate FILE: every key known, every value in its range.
    Check {
        /// The TOML file `serve --config` would read.
        file: std::path::PathBuf,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (time, level, target, message, request_id, …).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created and migrated if missing) or `postgres://…`.
    #[arg(long, env = "TACHI_AUTH_DATABASE_URL", default_value = "sqlite://tachi-auth.db", value_parser = database_url)]
    pub database_url: String,
    /// Largest number of database connections this process opens (1–1000).
    #[arg(long, env = "TACHI_AUTH_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503 (1–600000).
    #[arg(long, env = "TACHI_AUTH_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub db_acquire_timeout_ms: u64,
}

impl DatabaseArgs {
    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML file holding any of these settings under the same names
    /// (`code-lifetime = 600`); flags and environment variables override it.
    #[arg(long, env = "TACHI_AUTH_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Print the effective settings (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address and port to listen on.
    #[arg(long, env = "TACHI_AUTH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve Prometheus metrics at /metrics on this address (off by default;
    /// keep it private: it is not the public API's listener).
    #[arg(long, env = "TACHI_AUTH_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log lines as human-readable text or one JSON object per line.
    #[arg(long, env = "TACHI_AUTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The URL users reach this server at (default: http://<listen>). With
    /// https, cookies are marked Secure. It is also the OAuth issuer.
    #[arg(long, env = "TACHI_AUTH_PUBLIC_URL", value_parser = public_url)]
    pub public_url: Option<url::Url>,
    /// The site's name, shown on pages and used in the session cookie's name
    /// (`<SiteName>_SESSION`): 1–64 characters, with a letter or digit.
    #[arg(long, env = "TACHI_AUTH_SITE_NAME", default_value = "Tachi", value_parser = site_name)]
    pub site_name: String,
    /// How long an authorization code (and a pending consent) stays valid (1–86400).
    #[arg(long, env = "TACHI_AUTH_CODE_LIFETIME", default_value_t = 1800, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub code_lifetime: u64,
    /// How long a device code (RFC 8628, /device) waits for the player to approve it (1–3600).
    #[arg(long, env = "TACHI_AUTH_DEVICE_CODE_LIFETIME", default_value_t = 600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub device_code_lifetime: u64,
    /// A JSON file of built-in clients (ids starting with CX), created or
    /// updated at start-up: `[{"clientID": "CXhook", "name": "…", "permissions": […], …}]`.
    #[arg(long, env = "TACHI_AUTH_BUILTIN_CLIENTS", value_name = "FILE")]
    pub builtin_clients: Option<std::path::PathBuf>,
    /// How many API clients a non-admin user may own (0–100000).
    #[arg(long, env = "TACHI_AUTH_CLIENT_CAP", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub client_cap: u32,
    /// How long a login session lasts (60–31536000).
    #[arg(long, env = "TACHI_AUTH_SESSION_LIFETIME", default_value_t = 30 * 24 * 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub session_lifetime: u64,
    /// Failed logins allowed per account per limit window (1–1000000).
    #[arg(long, env = "TACHI_AUTH_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address per limit window (1–1000000).
    #[arg(long, env = "TACHI_AUTH_LOGIN_FAILURES_PER_IP", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub login_failures_per_ip: u32,
    /// Registrations allowed per client address per limit window (1–1000000).
    #[arg(long, env = "TACHI_AUTH_REGISTRATIONS_PER_IP", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub registrations_per_ip: u32,
    /// Failed client authentications (token, revoke, introspect) allowed per client and per address per window (1–1000000).
    #[arg(long, env = "TACHI_AUTH_CLIENT_AUTH_FAILURES", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub client_auth_failures: u32,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (e.g. X-Forwarded-For, X-Real-IP), for per-address limits. Only set
    /// this when every request passes through that proxy: clients can send
    /// the header themselves.
    #[arg(long, env = "TACHI_AUTH_CLIENT_IP_HEADER", value_name = "HEADER")]
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// The window of the limits above (1–86400).
    #[arg(long, env = "TACHI_AUTH_LIMIT_WINDOW", default_value_t = 900, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub limit_window: u64,
    /// Logins and registrations one client address may have in progress at once (1–1000).
    #[arg(long, env = "TACHI_AUTH_LOGINS_IN_FLIGHT_PER_IP", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub logins_in_flight_per_ip: u32,
    /// Login sessions a user may have at once: a new login ends the oldest beyond it (1–10000).
    #[arg(long, env = "TACHI_AUTH_SESSIONS_PER_USER", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sessions_per_user: u32,
    /// Personal API keys (made by hand, not through a client) a user may hold (0–100000).
    #[arg(long, env = "TACHI_AUTH_PERSONAL_KEY_CAP", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub personal_key_cap: u32,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Signed events to clients' webhooks.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Let webhooks reach loopback, link-local and private addresses (for
    /// tests and intranets). Without it, a webhook whose host resolves to
    /// any such address is refused, when set and when sent to.
    #[arg(long, env = "TACHI_AUTH_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// How long one delivery may take, from resolving the host to the answer's status line (1–60).
    #[arg(long, env = "TACHI_AUTH_WEBHOOK_TIMEOUT", default_value_t = 5, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout: u64,
    /// How long an event is retried before it is given up (60–604800).
    #[arg(long, env = "TACHI_AUTH_WEBHOOK_RETRY_HORIZON", default_value_t = 24 * 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub webhook_retry_horizon: u64,
    /// The first wait before a failed delivery is tried again; it doubles
    /// with each failure, up to an hour (10–3600000).
    #[arg(long, env = "TACHI_AUTH_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub webhook_retry_base_ms: u64,
}

impl WebhookArgs {
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            allow_private: self.webhook_allow_private,
            timeout: Duration::from_secs(self.webhook_timeout),
            retry_horizon: Duration::from_secs(self.webhook_retry_horizon),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms),
        }
    }
}

/// Mail, password resets and e-mail verification.
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// The mail server: `smtp://[user:password@]host[:port]` (STARTTLS when
    /// the server offers it) or `smtps://…` (TLS from the start). Without
    /// it, password resets and verification mails are off.
    #[arg(long, env = "TACHI_AUTH_SMTP_URL", value_name = "URL", value_parser = smtp_url)]
    pub smtp_url: Option<String>,
    /// The sender of the mails (default: `noreply@<host of the public URL>`).
    #[arg(long, env = "TACHI_AUTH_MAIL_FROM", value_name = "ADDRESS", value_parser = mail_from)]
    pub mail_from: Option<String>,
    /// How long a password reset link works (60–604800).
    #[arg(long, env = "TACHI_AUTH_RESET_CODE_LIFETIME", default_value_t = 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub reset_code_lifetime: u64,
    /// How long an e-mail verification link works (60–2592000).
    #[arg(long, env = "TACHI_AUTH_VERIFY_CODE_LIFETIME", default_value_t = 7 * 24 * 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub verify_code_lifetime: u64,
    /// Users whose e-mail address is not verified may not create API clients.
    #[arg(long, env = "TACHI_AUTH_REQUIRE_VERIFIED_EMAIL")]
    pub require_verified_email: bool,
    /// The first wait before a mail that could not be sent is tried again;
    /// it doubles with each failure, up to 30 minutes (1–1800000).
    #[arg(long, env = "TACHI_AUTH_MAIL_RETRY_BASE_MS", default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=1_800_000))]
    pub mail_retry_base_ms: u64,
    /// How long the security log keeps an event (1–36500).
    #[arg(long, env = "TACHI_AUTH_SECURITY_LOG_RETENTION", default_value_t = 180, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub security_log_retention: u64,
}

impl AccountArgs {
    pub fn settings(&self) -> AccountSettings {
        AccountSettings {
            reset_code_lifetime: Duration::from_secs(self.reset_code_lifetime),
            verify_code_lifetime: Duration::from_secs(self.verify_code_lifetime),
            require_verified_email: self.require_verified_email,
            mail_retry_base: Duration::from_millis(self.mail_retry_base_ms),
            security_log_retention: Duration::from_secs(self.security_log_retention * 86_400),
        }
    }

    /// The sender: `--mail-from`, or `noreply@` the public URL's host.
    pub fn mail_from(&self, public_url: &url::Url) -> String {
        self.mail_from.clone().unwrap_or_else(|| format!("noreply@{}", public_url.host_str().unwrap_or("localhost")))
    }
}

/// How connections are served: what one client may hold, and for how long.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Most connections open at once; past it, new ones are closed at once (1–1000000).
    #[arg(long, env = "TACHI_AUTH_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection is kept (1–3600).
    #[arg(long, env = "TACHI_AUTH_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Largest request head (request line and headers) accepted, in bytes (8192–1048576).
    #[arg(long, env = "TACHI_AUTH_MAX_HEADER_BYTES", default_value_t = 16 * 1024, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(8192..=1_048_576))]
    pub max_header_bytes: u32,
    /// On SIGTERM, how long requests in progress may take to finish before
    /// their connections are closed (0–3600).
    #[arg(long, env = "TACHI_AUTH_SHUTDOWN_GRACE", default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace: u64,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            site_name: self.site_name.clone(),
            code_lifetime: Duration::from_secs(self.code_lifetime),
            device_code_lifetime: Duration::from_secs(self.device_code_lifetime),
            client_cap: i64::from(self.client_cap),
            session_lifetime: Duration::from_secs(self.session_lifetime),
            sessions_per_user: i64::from(self.sessions_per_user),
            personal_key_cap: i64::from(self.personal_key_cap),
            limits: LimitSettings {
                login_failures_per_account: self.login_failures_per_account,
                login_failures_per_ip: self.login_failures_per_ip,
                registrations_per_ip: self.registrations_per_ip,
                client_auth_failures: self.client_auth_failures,
                logins_in_flight_per_ip: self.logins_in_flight_per_ip,
                window: Duration::from_secs(self.limit_window),
                ..LimitSettings::default()
            },
            accounts: self.accounts.settings(),
            webhooks: self.webhooks.settings(),
        }
    }

    pub fn public_url(&self) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{}", self.listen)).expect("a socket address makes a valid URL")
        })
    }

    /// The defaults, as if started with no flags and no environment.
    pub fn defaults() -> Self {
        match Cli::parse_from(["tachi-auth", "serve"]).command {
            Command::Serve(a) => a,
            _ => unreachable!("parsed 'serve'"),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The username to act on.
    pub username: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Make the user an admin (exempt from the client cap), or not.
    #[arg(long)]
    pub admin: Option<bool>,
    /// Ban the user (all their sessions and keys are refused), or lift the ban.
    #[arg(long)]
    pub banned: Option<bool>,
    /// Print a one-time link that lets the user choose a new password
    /// (for a server without mail, or a user whose mail does not arrive).
    #[arg(long)]
    pub reset_password: bool,
    /// End every login session of the user.
    #[arg(long)]
    pub end_sessions: bool,
    /// Revoke every API key of the user.
    #[arg(long)]
    pub revoke_keys: bool,
    /// The server's public URL, for the reset link.
    #[arg(long, env = "TACHI_AUTH_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// How long the reset link works (60–604800).
    #[arg(long, env = "TACHI_AUTH_RESET_CODE_LIFETIME", default_value_t = 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub reset_code_lifetime: u64,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only this user's events.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only events since then: `30d`, `12h`, `15m`, or unix milliseconds.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}

impl AuditArgs {
    /// `--since` as unix milliseconds (0 without it).
    pub fn since_ms(&self, now_ms: i64) -> Result<i64, String> {
        let Some(s) = self.since.as_deref().map(str::trim) else { return Ok(0) };
        let bad = || format!("--since must be like 30d, 12h, 15m or unix milliseconds, not '{s}'");
        let unit = match s.chars().last() {
            Some('d') => 86_400_000,
            Some('h') => 3_600_000,
            Some('m') => 60_000,
            _ => return s.parse::<i64>().map_err(|_| bad()),
        };
        let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
        Ok(now_ms - n.saturating_mul(unit))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The folder holding mongoexport's users.json, user-private-information.json,
    /// api-clients.json and api-tokens.json (one document per line).
    #[arg(long, value_name = "DIR")]
    pub from: std::path::PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Import the valid documents even when some are invalid (they are listed
    /// either way; without this flag, nothing is written then).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Check everything and say what would be imported, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl ImportArgs {
    pub fn options(&self) -> crate::import::Options {
        crate::import::Options { from: self.from.clone(), skip_invalid: self.skip_invalid, dry_run: self.dry_run }
    }
}

/// `--database-url`: a SQLite file or a PostgreSQL server. A SQLite URL with
/// no file (`sqlite:`, `sqlite://`) or an in-memory one would give each
/// pooled connection a database of its own: refused.
fn database_url(value: &str) -> Result<String, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let url = url::Url::parse(value).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err("a postgres:// URL needs a host: postgres://USER:PASSWORD@HOST/DATABASE".into());
        }
        return Ok(value.to_owned());
    }
    let Some(rest) = value.strip_prefix("sqlite:") else {
        return Err("must be sqlite://FILE (an embedded database) or postgres://USER@HOST/DATABASE".into());
    };
    let file = rest.trim_start_matches("//");
    let file = file.split('?').next().unwrap_or_default();
    if file.trim().is_empty() {
        return Err("names no file: give the database's path, e.g. sqlite://tachi-auth.db or \
                    sqlite:///var/lib/tachi-auth/tachi-auth.db"
            .into());
    }
    if file == ":memory:" || rest.contains("mode=memory") {
        return Err(
            "an in-memory database loses every account and key at exit: give a file, e.g. sqlite://tachi-auth.db"
                .into(),
        );
    }
    Ok(value.to_owned())
}

/// `--site-name`: shown on every page and the stem of the cookies' names,
/// so it must have something a cookie name can hold.
fn site_name(value: &str) -> Result<String, String> {
    let length = value.chars().count();
    if !(1..=64).contains(&length) {
        return Err(format!("must be 1 to 64 characters, not {length}"));
    }
    if value.chars().any(char::is_control) {
        return Err("must have no control characters".into());
    }
    if !value.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err("must have an ASCII letter or digit (the cookies are named after it)".into());
    }
    Ok(value.to_owned())
}

/// `--smtp-url`: checked here as well as when the mailer is made, so that
/// `config check` finds a mistake before a start does.
fn smtp_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e}): give smtp://HOST[:PORT] or smtps://…"))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(format!("must start with smtp:// or smtps://, not {}://", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("needs a host: smtp://[USER:PASSWORD@]HOST[:PORT]".into());
    }
    Ok(value.to_owned())
}

/// `--mail-from`: a mail address, as the mails' sender.
fn mail_from(value: &str) -> Result<String, String> {
    crate::mail::check_address(value).map(|()| value.to_owned())
}

/// `--public-url`: where browsers reach us, so http or https with a host.
fn public_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e}): give http(s)://HOST[:PORT][/PATH]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must be an http:// or https:// URL, not {}:", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("needs a host: http(s)://HOST[:PORT][/PATH]".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query (?…) or fragment (#…)".into());
    }
    Ok(url)
}
