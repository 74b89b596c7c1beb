//! tachi-auth: the OAuth2 and API-key service of a Tachi instance.
//!
//! Layers, outermost first: `http` (axum handlers and pages) → `service`
//! (use cases) → `domain` (protocol rules) and `storage` (all SQL).
//! `import` is the operator's `tachi-auth import`, beside `service`: Tachi's
//! documents read and checked, then written through `storage`.

pub mod config;
pub mod domain;
pub mod http;
pub mod import;
#[cfg(test)]
mod layering;
pub mod mail;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use config::ServeArgs;
use http::{AppState, WebSettings};
use service::Service;
use storage::Store;

/// A configured, migrated application, ready to be served.
pub struct App {
    pub state: AppState,
    pub connections: http::server::ConnectionLimits,
    /// `--metrics-listen`: its listener, bound at start, and the recorder's handle.
    pub metrics: Option<(tokio::net::TcpListener, metrics_exporter_prometheus::PrometheusHandle)>,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Database(#[from] storage::open::OpenError),
    #[error("cannot listen on {addr} for --metrics-listen: {reason}")]
    MetricsListen { addr: std::net::SocketAddr, reason: std::io::Error },
    #[error("cannot set up mail: {0}")]
    Mail(String),
    #[error("cannot load the built-in clients from {path}: {reason}")]
    BuiltinClients { path: String, reason: String },
}

impl App {
    pub async fn build(args: &ServeArgs) -> Result<App, StartupError> {
        App::build_with_clock(args, domain::Clock::System).await
    }

    /// The same, reading the time from `clock`: a test's manual clock, which
    /// lets it expire codes and sessions without waiting.
    pub async fn build_with_clock(args: &ServeArgs, clock: domain::Clock) -> Result<App, StartupError> {
        let builtin = match &args.builtin_clients {
            Some(path) => Some(load_builtin_clients(path)?),
            None => None,
        };
        // Metrics first: the store sets up its own (pool, batches) when they are on.
        let metrics = match args.metrics_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|reason| StartupError::MetricsListen { addr, reason })?;
                Some((listener, telemetry::install_metrics()))
            }
            None => None,
        };
        let store = Store::connect_with_clock(&args.database.database_url, &args.database.pool(), clock).await?;
        let settings = args.settings();
        let mut web = WebSettings::new(args.public_url(), &settings.site_name, settings.session_lifetime);
        web.client_ip_header = args.client_ip_header.clone();
        let mailer = match &args.accounts.smtp_url {
            Some(smtp) => {
                let from = args.accounts.mail_from(&args.public_url());
                Some(
                    mail::Mailer::new(smtp, &from, &args.public_url(), &settings.site_name)
                        .map_err(StartupError::Mail)?,
                )
            }
            None => None,
        };
        let svc = Arc::new(Service::new(store, settings).with_mailer(mailer));
        if let (Some(clients), Some(path)) = (builtin, &args.builtin_clients) {
            svc.sync_builtin_clients(clients).await.map_err(|e| StartupError::BuiltinClients {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let c = &args.connections;
        let connections = http::server::ConnectionLimits {
            max_connections: c.max_connections as usize,
            header_timeout: Duration::from_secs(c.header_timeout),
            max_header_bytes: c.max_header_bytes as usize,
            shutdown_grace: Duration::from_secs(c.shutdown_grace),
        };
        Ok(App { state: AppState { svc, web: Arc::new(web) }, connections, metrics })
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves; expired rows are
    /// swept in the background meanwhile.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep_expired(self.state.svc.clone()));
        let mail = tokio::spawn(self.state.svc.clone().run_mail_queue());
        let (stop_webhooks, webhooks_stop) = tokio::sync::watch::channel(false);
        let webhooks = tokio::spawn(self.state.svc.clone().run_webhooks(webhooks_stop));
        let metrics = self.metrics.map(|(listener, handle)| {
            let upkeep = tokio::spawn(telemetry::upkeep(handle.clone()));
            let router = telemetry::metrics_router(handle, self.state.svc.store.clone());
            let serving = tokio::spawn(async move { axum::serve(listener, router).await });
            (upkeep, serving)
        });
        let result =
            http::server::serve(listener, http::router(self.state.clone()), self.connections.clone(), shutdown).await;
        sweeper.abort();
        mail.abort();
        // The webhook worker finishes the attempts under way (each bounded
        // by its timeout); one cut short is sent again after a restart.
        let _ = stop_webhooks.send(true);
        let limit = self.state.svc.settings.webhooks.timeout + Duration::from_secs(1);
        if tokio::time::timeout(limit, webhooks).await.is_err() {
            tracing::warn!("webhook deliveries still under way at shutdown: they will be sent again");
        }
        if let Some((upkeep, serving)) = metrics {
            upkeep.abort();
            serving.abort();
        }
        self.state.svc.store.close().await;
        tracing::info!(database = %self.state.svc.store.opened().database, "database closed");
        result
    }
}

async fn sweep_expired(svc: Arc<Service>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut minutes = 0u64;
    loop {
        tick.tick().await;
        // The limiters' ended windows go every minute: an attacker's many
        // keys do not wait for the table to fill to be forgotten.
        svc.limits.prune(svc.clock.instant());
        minutes += 1;
        if minutes % 10 != 1 {
            continue;
        }
        let now = svc.now_ms();
        let lifetime = svc.settings.code_lifetime.as_millis() as i64;
        // Used codes are remembered one more lifetime, to recognise replays.
        if let Err(e) = svc.store.delete_expired(now, now - lifetime, now - lifetime).await {
            tracing::warn!(error = %e, "could not sweep expired rows");
        }
        if let Err(e) =
            svc.store.delete_expired_device_codes(now - svc.settings.device_code_lifetime.as_millis() as i64).await
        {
            tracing::warn!(error = %e, "could not sweep expired device codes");
        }
        if let Err(e) = svc.store.delete_expired_account_codes(now).await {
            tracing::warn!(error = %e, "could not sweep expired account codes");
        }
        let kept = service::webhooks::DELIVERIES_KEPT.as_millis() as i64;
        if let Err(e) = svc.store.prune_webhooks(now - kept).await {
            tracing::warn!(error = %e, "could not prune the webhook outbox");
        }
        let keep = svc.settings.accounts.security_log_retention.as_millis() as i64;
        if let Err(e) = svc.store.prune_security_log(now - keep).await {
            tracing::warn!(error = %e, "could not prune the security log");
        }
    }
}

fn load_builtin_clients(path: &std::path::Path) -> Result<Vec<service::clients::BuiltinClient>, StartupError> {
    let fail = |reason: String| StartupError::BuiltinClients { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))
}
