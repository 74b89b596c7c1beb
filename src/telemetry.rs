//! Logs and metrics: what an operator's log pipeline and Prometheus read.
//!
//! Logging is in [`log`]. Metrics are recorded only when `--metrics-listen`
//! is set; a disabled recorder costs a branch.

mod log;

pub use log::{JsonLines, LogGuard, RequestId, TextLines, current_request_id, init_logging, with_request_id};

use std::collections::HashMap;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, in seconds: a cached bearer check takes tens of
/// microseconds, a login (Argon2) tens of milliseconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Writes per group-commit batch (at most 256).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the process's metrics recorder (once: later calls share it).
pub fn install_metrics() -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("tachi_db_write_batch_size".into()), &BATCH_BUCKETS)
                })
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics will stay empty");
            }
            handle
        })
        .clone()
}

/// sqlx's pool reports each acquired connection under this target, with
/// the time it took, when asked to (see `storage::Store`).
pub const POOL_ACQUIRE: &str = "sqlx::pool::acquire";

/// Turns sqlx's pool events into `tachi_db_pool_acquire_seconds`: how long
/// each query waited for a connection. Near zero while the pool has an idle
/// one; the higher buckets count the waits of a saturated pool.
pub struct PoolAcquires;

impl<S: Subscriber> tracing_subscriber::Layer<S> for PoolAcquires {
    fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Waited(Option<f64>);
        impl Visit for Waited {
            fn record_f64(&mut self, field: &Field, value: f64) {
                if field.name().ends_with("after_secs") {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        if !metrics_on() {
            return;
        }
        let mut waited = Waited(None);
        event.record(&mut waited);
        if let Some(seconds) = waited.0 {
            static ACQUIRE: OnceLock<metrics::Histogram> = OnceLock::new();
            ACQUIRE.get_or_init(|| metrics::histogram!("tachi_db_pool_acquire_seconds")).record(seconds);
        }
    }
}

/// Records a group-commit batch of `kind` (see `storage::group_commit`):
/// how many writes shared it, and how long its transaction took to commit.
pub struct BatchMetrics {
    size: metrics::Histogram,
    commit: metrics::Histogram,
}

impl BatchMetrics {
    /// `None` when metrics are off: then a batch costs one branch.
    pub fn new(kind: &'static str) -> Option<BatchMetrics> {
        metrics_on().then(|| BatchMetrics {
            size: metrics::histogram!("tachi_db_write_batch_size", "kind" => kind),
            commit: metrics::histogram!("tachi_db_write_batch_commit_seconds", "kind" => kind),
        })
    }

    pub fn record(&self, size: usize, took: std::time::Duration) {
        self.size.record(size as f64);
        self.commit.record(took.as_secs_f64());
    }
}

/// Counts a notification that credentials changed (a key revoked, a user
/// banned…), received from the database: PostgreSQL's `NOTIFY`, or the
/// SQLite counter seen to move. `source`: `postgres` or `sqlite`.
pub fn credential_change_received(source: &'static str) {
    if metrics_on() {
        metrics::counter!("tachi_credential_change_notifications_total", "source" => source).increment(1);
    }
}

/// Whether metrics are recorded: the hot path asks before building labels.
#[inline]
pub fn metrics_on() -> bool {
    METRICS.get().is_some()
}

/// Counts one event `name` with an `outcome` label, when metrics are on.
/// Each thread keeps the handles it has used: registering a series hashes
/// its whole key in the recorder's shared map, a few times the cost of
/// the increment itself.
#[inline]
pub fn count(name: &'static str, outcome: &'static str) {
    if metrics_on() {
        COUNTERS.with_borrow_mut(|counters| {
            counters
                .entry((name, outcome))
                .or_insert_with(|| metrics::counter!(name, "outcome" => outcome))
                .increment(1)
        });
    }
}

/// A route's request counters by (method, status class), and its latency
/// histograms by method.
type RouteSeries = (Vec<((&'static str, &'static str), metrics::Counter)>, Vec<(&'static str, metrics::Histogram)>);

thread_local! {
    static COUNTERS: std::cell::RefCell<HashMap<(&'static str, &'static str), metrics::Counter>> =
        std::cell::RefCell::new(HashMap::new());
    /// By route template.
    static REQUESTS: std::cell::RefCell<HashMap<String, RouteSeries>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Records an answered request (see [`count`] for why handles are kept).
pub fn record_request(method: &'static str, route: &str, class: &'static str, latency: std::time::Duration) {
    REQUESTS.with_borrow_mut(|routes| {
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), (Vec::new(), Vec::new()));
        }
        let (counters, histograms) = routes.get_mut(route).expect("inserted above");
        match counters.iter().find(|(k, _)| *k == (method, class)) {
            Some((_, c)) => c.increment(1),
            None => {
                let c = metrics::counter!("tachi_http_requests_total", "method" => method, "route" => route.to_owned(), "status" => class);
                c.increment(1);
                counters.push(((method, class), c));
            }
        }
        match histograms.iter().find(|(m, _)| *m == method) {
            Some((_, h)) => h.record(latency.as_secs_f64()),
            None => {
                let h = metrics::histogram!("tachi_http_request_duration_seconds", "method" => method, "route" => route.to_owned());
                h.record(latency.as_secs_f64());
                histograms.push((method, h));
            }
        }
    });
}

/// Folds recorded histogram samples into their buckets now and then, so
/// that they do not pile up between scrapes.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// The text of a scrape: the recorded metrics, and the process's and the
/// pool's, read now.
pub fn render(handle: &PrometheusHandle, store: &crate::storage::Store) -> String {
    let (size, idle, max) = store.pool_stats();
    metrics::gauge!("tachi_db_pool_connections", "state" => "open").set(size as f64);
    metrics::gauge!("tachi_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("tachi_db_pool_connections", "state" => "in_use").set((size as usize).saturating_sub(idle) as f64);
    metrics::gauge!("tachi_db_pool_max_connections").set(max as f64);
    process_metrics();
    handle.run_upkeep();
    handle.render()
}

/// RSS, CPU time, open files and start time, from /proc (Linux).
fn process_metrics() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf only reads a system constant.
        let (page, ticks) = unsafe { (libc::sysconf(libc::_SC_PAGESIZE), libc::sysconf(libc::_SC_CLK_TCK)) };
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        if let Some(Ok(pages)) = statm.split_whitespace().nth(1).map(str::parse::<f64>) {
            metrics::gauge!("process_resident_memory_bytes").set(pages * page as f64);
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may hold spaces), from field 3.
            let rest: Vec<&str> =
                stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
            let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            metrics::gauge!("process_cpu_seconds_total").set((field(14) + field(15)) / ticks as f64);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            metrics::gauge!("process_open_fds").set(fds.count() as f64);
        }
    }
}

/// The `/metrics` listener: a router of its own, apart from the public one.
pub fn metrics_router(handle: PrometheusHandle, store: crate::storage::Store) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = render(&handle, &store);
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
        }),
    )
}
