//! Command line and environment: every setting is a flag and a
//! `TACHI_AUTH_<NAME>` variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::service::Settings;
use crate::service::limits::LimitSettings;
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
    /// Operator actions on a user account (admin, ban).
    User(UserArgs),
    /// Import a Tachi instance's users, API clients and API keys from
    /// mongoexport's files (see the README's "Moving from Tachi").
    Import(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created and migrated if missing) or `postgres://…`.
    #[arg(long, env = "TACHI_AUTH_DATABASE_URL", default_value = "sqlite://tachi-auth.db")]
    pub database_url: String,
    /// Largest number of database connections this process opens.
    #[arg(long, env = "TACHI_AUTH_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503.
    #[arg(long, env = "TACHI_AUTH_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000, value_name = "MS")]
    pub db_acquire_timeout_ms: u64,
}

impl DatabaseArgs {
    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms.max(1)),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TACHI_AUTH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The URL users reach this server at (default: http://<listen>). With
    /// https, cookies are marked Secure. It is also the OAuth issuer.
    #[arg(long, env = "TACHI_AUTH_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// The site's name, shown on pages and used in the session cookie's name (`<SiteName>_SESSION`).
    #[arg(long, env = "TACHI_AUTH_SITE_NAME", default_value = "Tachi")]
    pub site_name: String,
    /// How long an authorization code (and a pending consent) stays valid.
    #[arg(long, env = "TACHI_AUTH_CODE_LIFETIME", default_value_t = 1800, value_name = "SECONDS")]
    pub code_lifetime: u64,
    /// A JSON file of built-in clients (ids starting with CX), created or
    /// updated at start-up: `[{"clientID": "CXhook", "name": "…", "permissions": […], …}]`.
    #[arg(long, env = "TACHI_AUTH_BUILTIN_CLIENTS", value_name = "FILE")]
    pub builtin_clients: Option<std::path::PathBuf>,
    /// How many API clients a non-admin user may own.
    #[arg(long, env = "TACHI_AUTH_CLIENT_CAP", default_value_t = 10)]
    pub client_cap: u32,
    /// How long a login session lasts.
    #[arg(long, env = "TACHI_AUTH_SESSION_LIFETIME", default_value_t = 30 * 24 * 3600, value_name = "SECONDS")]
    pub session_lifetime: u64,
    /// Failed logins allowed per account per limit window.
    #[arg(long, env = "TACHI_AUTH_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address per limit window.
    #[arg(long, env = "TACHI_AUTH_LOGIN_FAILURES_PER_IP", default_value_t = 50)]
    pub login_failures_per_ip: u32,
    /// Registrations allowed per client address per limit window.
    #[arg(long, env = "TACHI_AUTH_REGISTRATIONS_PER_IP", default_value_t = 20)]
    pub registrations_per_ip: u32,
    /// Failed client authentications (token, revoke, introspect) allowed per client and per address per window.
    #[arg(long, env = "TACHI_AUTH_CLIENT_AUTH_FAILURES", default_value_t = 20)]
    pub client_auth_failures: u32,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (e.g. X-Forwarded-For, X-Real-IP), for per-address limits. Only set
    /// this when every request passes through that proxy: clients can send
    /// the header themselves.
    #[arg(long, env = "TACHI_AUTH_CLIENT_IP_HEADER", value_name = "HEADER")]
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// The window of the limits above.
    #[arg(long, env = "TACHI_AUTH_LIMIT_WINDOW", default_value_t = 900, value_name = "SECONDS")]
    pub limit_window: u64,
    /// Logins and registrations one client address may have in progress at once.
    #[arg(long, env = "TACHI_AUTH_LOGINS_IN_FLIGHT_PER_IP", default_value_t = 4)]
    pub logins_in_flight_per_ip: u32,
    /// Login sessions a user may have at once: a new login ends the oldest beyond it.
    #[arg(long, env = "TACHI_AUTH_SESSIONS_PER_USER", default_value_t = 50)]
    pub sessions_per_user: u32,
    /// Personal API keys (made by hand, not through a client) a user may hold.
    #[arg(long, env = "TACHI_AUTH_PERSONAL_KEY_CAP", default_value_t = 100)]
    pub personal_key_cap: u32,
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

/// How connections are served: what one client may hold, and for how long.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Most connections open at once; past it, new ones are closed at once.
    #[arg(long, env = "TACHI_AUTH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: u32,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection is kept.
    #[arg(long, env = "TACHI_AUTH_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS")]
    pub header_timeout: u64,
    /// Largest request head (request line and headers) accepted, in bytes.
    #[arg(long, env = "TACHI_AUTH_MAX_HEADER_BYTES", default_value_t = 16 * 1024, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// On SIGTERM, how long requests in progress may take to finish before
    /// their connections are closed.
    #[arg(long, env = "TACHI_AUTH_SHUTDOWN_GRACE", default_value_t = 10, value_name = "SECONDS")]
    pub shutdown_grace: u64,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            site_name: self.site_name.clone(),
            code_lifetime: Duration::from_secs(self.code_lifetime.max(1)),
            client_cap: i64::from(self.client_cap),
            session_lifetime: Duration::from_secs(self.session_lifetime.max(60)),
            sessions_per_user: i64::from(self.sessions_per_user.max(1)),
            personal_key_cap: i64::from(self.personal_key_cap),
            limits: LimitSettings {
                login_failures_per_account: self.login_failures_per_account,
                login_failures_per_ip: self.login_failures_per_ip,
                registrations_per_ip: self.registrations_per_ip,
                client_auth_failures: self.client_auth_failures,
                logins_in_flight_per_ip: self.logins_in_flight_per_ip.max(1),
                window: Duration::from_secs(self.limit_window.max(1)),
                ..LimitSettings::default()
            },
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
            Command::User(_) | Command::Import(_) => unreachable!("parsed 'serve'"),
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
