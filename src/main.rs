//! The `tachi-auth` binary: parse the configuration, then serve (or run an
//! operator command).

use tachi_auth::App;
use tachi_auth::config::{Command, ConfigAction, LogFormat, file};
use tachi_auth::storage::Store;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_os();
    let parsed = match file::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(file::ParseError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("tachi-auth: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (format, metrics) = match &parsed.cli.command {
        Command::Serve(args) => (args.log_format, args.metrics_listen.is_some()),
        _ => (LogFormat::Text, false),
    };
    // Pending log lines are written when this guard goes, at the end of main.
    let _logs = match &parsed.cli.command {
        Command::Import(_) => {
            init_import_logging();
            None
        }
        _ => Some(tachi_auth::telemetry::init_logging(format, metrics)),
    };
    match run(parsed).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::debug!(error = %e, "stopped by an error");
            eprintln!("tachi-auth: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(parsed: file::Parsed) -> Result<(), Box<dyn std::error::Error>> {
    match parsed.cli.command {
        Command::Serve(args) if args.print_config => {
            print!("{}", file::effective(&parsed.matches, &parsed.from_file));
            Ok(())
        }
        Command::Serve(args) => {
            let mut app = App::build(&args).await?;
            if let Some(files) = tachi_auth::http::server::raise_open_file_limit() {
                // Room for the database, the log and the listener besides connections.
                let room = usize::try_from(files.saturating_sub(64)).unwrap_or(usize::MAX).max(1);
                if app.connections.max_connections > room {
                    tracing::warn!(
                        max_connections = app.connections.max_connections,
                        open_file_limit = files,
                        "the open-file limit allows fewer connections than --max-connections: serving at most {room}"
                    );
                    app.connections.max_connections = room;
                }
            }
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
            let opened = app.state.svc.store.opened().clone();
            let schema = opened.schema_version.map(|(v, d)| format!("{v} ({d})")).unwrap_or_default();
            let metrics = args.metrics_listen.map(|a| format!("http://{a}/metrics")).unwrap_or_else(|| "off".into());
            tracing::info!(
                listen = %args.listen,
                public_url = %args.public_url(),
                database = %opened.database,
                migrations = opened.migrations,
                migrations_applied_now = opened.migrations_applied_now,
                schema = %schema,
                metrics = %metrics,
                version = env!("CARGO_PKG_VERSION"),
                "tachi-auth is serving"
            );
            app.serve(listener, shutdown_signal()).await?;
            tracing::info!("tachi-auth stopped");
            Ok(())
        }
        Command::User(args) => user_command(args).await,
        Command::Audit(args) => audit_command(args).await,
        Command::Import(args) => {
            let store = Store::connect(&args.database.database_url, &args.database.pool()).await?;
            let database = tachi_auth::import::describe_database(&args.database.database_url);
            let outcome = tachi_auth::import::run(&store, &args.options(), &database).await;
            store.close().await;
            outcome.map(|_| ()).map_err(|e| e.to_string().into())
        }
        Command::Backup(args) => {
            let url = &args.database.database_url;
            let database = tachi_auth::storage::open::describe(url);
            if url.starts_with("sqlite:") {
                let report = tachi_auth::storage::backup::sqlite(url, &args.to).await?;
                println!(
                    "backed up the {database} to {} ({} bytes, {} migrations, integrity check ok)",
                    args.to.display(),
                    report.bytes,
                    report.migrations
                );
                Ok(())
            } else {
                let command = tachi_auth::storage::backup::pg_dump_command(url, &args.to)?;
                println!("{command}");
                Err(format!(
                    "the {database} is backed up with PostgreSQL's own pg_dump: run the command above \
                     (the password comes from PGPASSWORD or ~/.pgpass)"
                )
                .into())
            }
        }
        Command::Restore(args) => {
            let url = &args.database.database_url;
            let database = tachi_auth::storage::open::describe(url);
            if url.starts_with("sqlite:") {
                let report = tachi_auth::storage::backup::restore_sqlite(&args.from, url).await?;
                println!(
                    "restored the {database} from {} ({} bytes, {} migrations, integrity check ok)",
                    args.from.display(),
                    report.bytes,
                    report.migrations
                );
                if let Some(replaced) = &report.replaced {
                    println!("the database it replaced is kept as {}", replaced.display());
                }
                if report.newer_here > 0 {
                    println!(
                        "the backup's schema is older: the server applies this version's {} newer migration(s) \
                         when it starts",
                        report.newer_here
                    );
                }
                Ok(())
            } else {
                let command = tachi_auth::storage::backup::pg_restore_command(url, &args.from)?;
                println!("{command}");
                Err(format!(
                    "the {database} is restored with PostgreSQL's own pg_restore: stop every server using it, \
                     then run the command above (the password comes from PGPASSWORD or ~/.pgpass)"
                )
                .into())
            }
        }
        Command::Config(args) => match args.action {
            ConfigAction::Check { file: path } => {
                let n = file::check(&path)?;
                println!("{}: valid ({n} settings)", path.display());
                Ok(())
            }
        },
    }
}

/// The import's report is its standard output: its log goes to standard
/// error, without sqlx's warnings about its long (bulk) statements.
fn init_import_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TACHI_AUTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// `tachi-auth user NAME …`: the operator's actions on one account.
async fn user_command(args: tachi_auth::config::UserArgs) -> Result<(), Box<dyn std::error::Error>> {
    let flags = args.admin.is_some() || args.banned.is_some();
    if !flags && !args.reset_password && !args.end_sessions && !args.revoke_keys {
        return Err("nothing to do: pass --admin true|false, --banned true|false, --reset-password, \
                    --end-sessions and/or --revoke-keys"
            .into());
    }
    // An operator command never creates a database: it says which one it opened.
    let store = Store::open_existing(&args.database.database_url, &args.database.pool()).await?;
    let database = store.opened().database.clone();
    let key = tachi_auth::domain::user::username_key(&args.username);
    let user = store
        .user_by_username_key(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user is named '{}' in the {database}", args.username))?;
    if flags {
        store.set_user_flags(&key, args.admin, args.banned).await.map_err(|e| e.to_string())?;
        println!("updated {} in the {database}", user.username);
    }
    let operator = tachi_auth::service::audit::actor::OPERATOR;
    let record = |event: &'static str, detail: String| {
        let store = store.clone();
        async move {
            let svc = tachi_auth::service::Service::new(store, Default::default());
            svc.record(Some(user.id), event, operator, None, Some(&detail)).await;
        }
    };
    if args.end_sessions {
        let n = store.end_sessions(user.id).await.map_err(|e| e.to_string())?;
        record("sessions ended", format!("{n} session(s)")).await;
        println!("ended {n} session(s) of {}", user.username);
    }
    if args.revoke_keys {
        let n = store.delete_user_keys(user.id).await.map_err(|e| e.to_string())?;
        record("API keys revoked", format!("{n} key(s)")).await;
        println!("revoked {n} API key(s) of {}", user.username);
    }
    if args.reset_password {
        let mut settings = tachi_auth::service::Settings::default();
        settings.accounts.reset_code_lifetime = std::time::Duration::from_secs(args.reset_code_lifetime);
        let lifetime = settings.accounts.reset_code_lifetime;
        let svc = tachi_auth::service::Service::new(store.clone(), settings);
        let code = svc.operator_reset_code(user.id).await.map_err(|e| e.to_string())?;
        let base = args.public_url.as_ref().map_or_else(String::new, |u| u.as_str().trim_end_matches('/').to_owned());
        println!(
            "a one-time link for {} to choose a new password (valid {} s):\n{base}/reset-password?code={}",
            user.username,
            lifetime.as_secs(),
            code.expose()
        );
    }
    store.close().await;
    Ok(())
}

/// `tachi-auth audit [--user NAME] [--since WHEN]`: the security log as JSON lines.
async fn audit_command(args: tachi_auth::config::AuditArgs) -> Result<(), Box<dyn std::error::Error>> {
    let since = args.since_ms(tachi_auth::domain::now_ms())?;
    let store = Store::open_existing(&args.database.database_url, &args.database.pool()).await?;
    let user_id = match &args.user {
        Some(name) => {
            let key = tachi_auth::domain::user::username_key(name);
            let user = store.user_by_username_key(&key).await.map_err(|e| e.to_string())?;
            Some(user.ok_or_else(|| format!("no user is named '{name}'"))?.id)
        }
        None => None,
    };
    let events = store.security_events_since(user_id, since).await.map_err(|e| e.to_string())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in events {
        use std::io::Write;
        serde_json::to_writer(&mut out, &tachi_auth::http::api::views::SecurityEventView::from(e))?;
        out.write_all(b"\n")?;
    }
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// glibc raises its mmap threshold after the first large free, after which
/// every login's 19 MiB Argon2 block is carved from (and kept in) a per-thread
/// arena: hundreds of MB stay resident after a burst of logins. A fixed
/// threshold keeps such blocks mmapped, so they are returned when freed.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is thread-safe and only changes an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
