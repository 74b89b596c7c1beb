//! Log output: how lines are formatted and how they reach standard output.
//!
//! A line is formatted where it happens, then appended to a shared buffer
//! under a short lock; a thread of its own writes the buffer out a few
//! milliseconds after its first line. So a request never waits for stdout,
//! and a busy server pays one wake-up and one write per batch of lines, not
//! per line. Past [`BUFFER_CAP`] (stdout not keeping up) lines are dropped
//! and counted, not waited for.
//!
//! A request's id is in every line logged while it is handled: it is a
//! task-local of the request's task (see `http::finish`), read by the
//! formatters, rather than a tracing span, whose bookkeeping on every poll
//! costs the bearer hot path more than the line itself.

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// A request's id: random, or the one a trusted proxy sent.
#[derive(Debug, Clone)]
pub enum RequestId {
    Random(u64),
    FromProxy(Arc<str>),
}

impl RequestId {
    pub fn random() -> RequestId {
        RequestId::Random(rand::random())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Random(n) => write!(f, "{n:016x}"),
            RequestId::FromProxy(id) => f.write_str(id),
        }
    }
}

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// Runs `work` with `id` as the request id of every line it logs.
pub fn with_request_id<F: Future>(id: RequestId, work: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, work)
}

/// The request id of the work running now, if it is a request's.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the global logger; the guard writes out pending lines when
/// dropped (keep it until the process ends). With `metrics`, sqlx's pool
/// events are also read, for [`super::PoolAcquires`] (whatever the log's level).
pub fn init_logging(format: LogFormat, metrics: bool) -> LogGuard {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_env("TACHI_AUTH_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = BufferedStdout::start();
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    let acquires = metrics.then(|| {
        let only = tracing_subscriber::filter::Targets::new().with_target(super::POOL_ACQUIRE, Level::DEBUG);
        super::PoolAcquires.with_filter(only)
    });
    let registry = tracing_subscriber::registry().with(acquires);
    match format {
        // Colours for a terminal only: not escape codes in a log file.
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            registry.with(layer.with_ansi(ansi).event_format(TextLines).with_filter(filter)).init()
        }
        LogFormat::Json => {
            registry.with(layer.fmt_fields(JsonFields::new()).event_format(JsonLines).with_filter(filter)).init()
        }
    }
    guard
}

/// `<time> <LEVEL> <target>: <message> <field>=<value>… request_id=<id>`.
pub struct TextLines;

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        let meta = event.metadata();
        let level = meta.level();
        if writer.has_ansi_escapes() {
            let colour = match *level {
                Level::ERROR => 31,
                Level::WARN => 33,
                Level::INFO => 32,
                Level::DEBUG => 34,
                Level::TRACE => 35,
            };
            write!(writer, " \x1b[{colour}m{level:>5}\x1b[0m {}: ", meta.target())?;
        } else {
            write!(writer, " {level:>5} {}: ", meta.target())?;
        }
        ctx.format_fields(writer.by_ref(), event)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>().filter(|f| !f.is_empty()) {
                    write!(writer, " {fields}")?;
                }
            }
        }
        let _ = REQUEST_ID.try_with(|id| write!(writer, " request_id={id}"));
        writeln!(writer)
    }
}

/// One JSON object per line: `time`, `level`, `target`, the request's
/// `request_id`, the fields of any span the event is in, and the event's own
/// (`message`, and a request's `method`, `route`, `status`, `latency_ms`),
/// all at the top level for a log pipeline's queries.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = serde_json::Map::new();
        let mut time = String::new();
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        let meta = event.metadata();
        line.insert("time".into(), time.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Ok(id) = REQUEST_ID.try_with(ToString::to_string) {
            line.insert("request_id".into(), id.into());
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // With `JsonFields`, a span's fields are kept as a JSON object.
                let fields = extensions.get::<FormattedFields<N>>().and_then(|f| serde_json::from_str(f.as_str()).ok());
                if let Some(serde_json::Value::Object(fields)) = fields {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

/// Lines waiting for the writer thread past this are dropped: stdout is
/// not keeping up, and a request must not wait for it.
const BUFFER_CAP: usize = 8 << 20;

/// How long the writer thread gathers lines after the first of a batch.
const GATHER: Duration = Duration::from_millis(20);

/// The buffer behind [`BufferedStdout`], and its writer thread's signals.
pub struct Shared {
    lines: Mutex<Vec<u8>>,
    /// Signalled when a line arrives in an empty buffer, and at the end.
    ready: Condvar,
    dropped: AtomicU64,
    ending: AtomicBool,
}

/// The writer handed to tracing: appends a formatted line to the buffer.
#[derive(Clone)]
pub struct BufferedStdout(Arc<Shared>);

/// Keep it while the process logs: dropping it writes out what is pending
/// and ends the writer thread.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BufferedStdout {
    fn start() -> (BufferedStdout, LogGuard) {
        let shared = Arc::new(Shared {
            lines: Mutex::new(Vec::with_capacity(64 << 10)),
            ready: Condvar::new(),
            dropped: AtomicU64::new(0),
            ending: AtomicBool::new(false),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || write_out(&shared))
                .expect("a thread for the log writer")
        };
        (BufferedStdout(shared.clone()), LogGuard { shared, thread: Some(thread) })
    }
}

impl<'a> MakeWriter<'a> for BufferedStdout {
    type Writer = &'a Shared;

    fn make_writer(&'a self) -> &'a Shared {
        &self.0
    }
}

impl std::io::Write for &Shared {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let first = lines.is_empty();
        if lines.len() + line.len() > BUFFER_CAP {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            lines.extend_from_slice(line);
        }
        drop(lines);
        if first {
            self.ready.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer thread: waits for a first line, gathers more for [`GATHER`],
/// writes them all at once; at the end, writes what is left.
fn write_out(shared: &Shared) {
    let mut spare = Vec::with_capacity(64 << 10);
    loop {
        {
            let mut lines = shared.lines.lock().unwrap_or_else(|e| e.into_inner());
            while lines.is_empty() && !shared.ending.load(Ordering::Acquire) {
                lines = shared.ready.wait(lines).unwrap_or_else(|e| e.into_inner());
            }
        }
        let ending = shared.ending.load(Ordering::Acquire);
        if !ending {
            std::thread::sleep(GATHER);
        }
        std::mem::swap(&mut *shared.lines.lock().unwrap_or_else(|e| e.into_inner()), &mut spare);
        let mut out = std::io::stdout().lock();
        // Nothing to do if stdout is gone: the lines have nowhere to go.
        let _ = out.write_all(&spare);
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(out, "tachi-auth: {dropped} log lines were dropped: the log output did not keep up");
        }
        let _ = out.flush();
        spare.clear();
        if ending && shared.lines.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            // Under the lock, so the writer thread cannot miss it between
            // its check and its wait.
            let _lines = self.shared.lines.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.ending.store(true, Ordering::Release);
        }
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
