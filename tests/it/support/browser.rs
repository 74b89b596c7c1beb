//! Headless Chromium for the browser tests, driven over WebDriver.
//!
//! One `chromedriver` per test process, started on first use on a free
//! loopback port and killed when the process exits (it gets `SIGKILL` when
//! the thread that started it, which lives as long as the process, dies).
//! Each [`Browser`] is a new Chromium session with its own fresh profile
//! (`--user-data-dir`) and download directory; at most two run at once.
//!
//! Also here: [`Callback`], the integration's redirect endpoint — a tiny
//! HTTP server on loopback that records what the browser brings to it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a page, element or URL may take to appear.
const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// The chromedriver of this test process: `http://127.0.0.1:PORT`.
fn driver() -> &'static str {
    static DRIVER: OnceLock<String> = OnceLock::new();
    DRIVER.get_or_init(|| {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
            l.local_addr().unwrap().port()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        // The child is spawned from a thread that never ends, so that the
        // parent-death signal fires when the process exits, not before.
        std::thread::Builder::new()
            .name("chromedriver".into())
            .spawn(move || {
                use std::os::unix::process::CommandExt;
                let mut cmd = Command::new(chromedriver());
                cmd.arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let child = cmd.spawn();
                let ok = child.is_ok();
                let _ = tx.send(child.map(|_| ()).map_err(|e| e.to_string()));
                if ok {
                    loop {
                        std::thread::park();
                    }
                }
            })
            .expect("a thread for chromedriver");
        if let Err(e) = rx.recv().unwrap() {
            panic!(
                "cannot start {} ({e}): install Chromium (scripts/test does: apt-get install chromium chromium-driver)",
                chromedriver()
            );
        }
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(start.elapsed() < WAIT, "chromedriver did not start listening");
            std::thread::sleep(POLL);
        }
        format!("http://{addr}")
    })
}

fn browser_slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(2))).clone()
}

/// Where screenshots go: `artifacts/screenshots/` (not committed).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/screenshots")
}

/// One headless Chromium session with its own profile and download folder.
pub struct Browser {
    pub client: Client,
    session: Option<String>,
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    _slot: OwnedSemaphorePermit,
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_sized(DESKTOP).await
    }

    pub async fn start_sized((width, height): (u32, u32)) -> Browser {
        let slot = browser_slots().acquire_owned().await.unwrap();
        let driver = driver();
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let caps: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            },
        }))
        .unwrap();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(driver)
            .await
            .expect("a Chromium session from chromedriver");
        let session = client.session_id().await.ok().flatten();
        let b = Browser { client, session, downloads, _profile: profile, _slot: slot };
        b.resize((width, height)).await;
        b
    }

    /// Ends the session (also done, more bluntly, if a test panics first).
    pub async fn close(mut self) {
        self.session = None;
        let _ = self.client.clone().close().await;
    }

    /// Sets the size of the page's viewport (not the window's outer size).
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
        let inner = self.client.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
        let (iw, ih) = (inner[0].as_u64().unwrap() as u32, inner[1].as_u64().unwrap() as u32);
        if (iw, ih) != (width, height) {
            // The window may have a frame: grow the window by its size.
            let ow = width + width.saturating_sub(iw);
            let oh = height + height.saturating_sub(ih);
            self.client.set_window_size(ow, oh).await.unwrap();
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.unwrap()
    }

    /// Waits until the current URL satisfies `ok`; returns it.
    pub async fn wait_url(&self, what: &str, ok: impl Fn(&url::Url) -> bool) -> url::Url {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            if ok(&url) {
                return url;
            }
            assert!(start.elapsed() < WAIT, "waited {WAIT:?} for {what}; the browser is at {url}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for the element matching `css` to exist.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(WAIT).every(POLL).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let url = self.url().await;
                let body = self.text("body").await;
                panic!("no element {css} on {url} ({e}); the page says:\n{body}")
            }
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// Waits for an element containing `text` to exist (CSS selector + text).
    pub async fn find_with_text(&self, css: &str, text: &str) -> Element {
        let start = Instant::now();
        loop {
            for e in self.find_all(css).await {
                if e.text().await.map(|t| t.contains(text)).unwrap_or(false) {
                    return e;
                }
            }
            assert!(start.elapsed() < WAIT, "no {css} with text {text:?} on {}", self.url().await);
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Types `value` into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Presses and releases one key (e.g. `fantoccini::key::Key::Tab`).
    pub async fn press(&self, key: fantoccini::key::Key) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let value: char = key.into();
        let keys = KeyActions::new("keyboard".into()).then(KeyAction::Down { value }).then(KeyAction::Up { value });
        self.client.perform_actions(keys).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The page fits the viewport's width: nothing to scroll sideways.
    pub async fn assert_no_horizontal_scroll(&self) {
        let v = self.js("return [document.documentElement.scrollWidth, window.innerWidth, location.pathname]").await;
        assert!(v[0].as_u64().unwrap() <= v[1].as_u64().unwrap(), "the page {} scrolls sideways: {v}", v[2]);
    }

    /// A full-page screenshot into `artifacts/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let (w, h) = self.client.get_window_size().await.unwrap();
        let inner = self.js("return [window.innerWidth, window.innerHeight]").await;
        let ih = inner[1].as_u64().unwrap();
        let full = self
            .js("return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))")
            .await
            .as_u64()
            .unwrap();
        let tall = full.max(ih).min(6000);
        self.client.set_window_size(w as u32, (h - ih + tall) as u32).await.unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(w as u32, h as u32).await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The session cookie as the browser holds it.
    pub async fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.client.get_named_cookie(name).await.ok()
    }

    /// Waits for a finished download and returns its path.
    pub async fn downloaded(&self, file_name: &str) -> PathBuf {
        let path = self.downloads.path().join(file_name);
        let start = Instant::now();
        loop {
            let partial = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
            if path.exists() && !partial {
                return path;
            }
            assert!(start.elapsed() < WAIT, "{file_name} was not downloaded into {}", self.downloads.path().display());
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Browser {
    /// A test that panicked did not close its session: ask chromedriver to
    /// end it (and its Chromium) so no browser outlives the test.
    fn drop(&mut self) {
        let Some(id) = self.session.take() else {
            return;
        };
        let addr = driver().trim_start_matches("http://").to_owned();
        let _ = (|| -> std::io::Result<()> {
            use std::io::{Read, Write};
            let mut s = TcpStream::connect(&addr)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(
                s,
                "DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )?;
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            Ok(())
        })();
    }
}

/// The integration's redirect URI: records the query string of every visit.
pub struct Callback {
    pub url: String,
    hits: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Callback {
    pub async fn start() -> Callback {
        use axum::extract::RawQuery;
        use axum::response::Html;
        let hits = Arc::new(Mutex::new(Vec::new()));
        let recorded = hits.clone();
        let app = axum::Router::new().route(
            "/tachi-callback",
            axum::routing::get(move |RawQuery(q): RawQuery| {
                let recorded = recorded.clone();
                async move {
                    recorded.lock().unwrap().push(q.unwrap_or_default());
                    Html("<!doctype html><title>Integration</title><h1 id=linked>Linked with Tachi</h1>")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Callback { url: format!("http://{addr}/tachi-callback"), hits, _stop: tx }
    }

    /// The query strings received so far.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    /// The parameters of the only visit so far.
    pub fn only_visit(&self) -> std::collections::HashMap<String, String> {
        let hits = self.hits();
        assert_eq!(hits.len(), 1, "the redirect URI was visited {} times: {hits:?}", hits.len());
        url::form_urlencoded::parse(hits[0].as_bytes()).into_owned().collect()
    }
}
