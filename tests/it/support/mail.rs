//! A real SMTP server for the tests: Python's aiosmtpd running
//! `tests/clients/python/smtp_sink.py`, which stores each message it
//! receives as a JSON file the test reads.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// A mail as the sink stored it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl ReceivedMail {
    /// The `code=` of the link to `path` in the text part.
    pub fn code_for(&self, path: &str) -> String {
        let marker = format!("{path}?code=");
        let at = self.text.find(&marker).unwrap_or_else(|| panic!("no {path} link in: {}", self.text));
        self.text[at + marker.len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect()
    }

    /// The whole link to `path` in the text part.
    pub fn link_for(&self, path: &str) -> String {
        let at = self.text.find(&format!("{path}?code=")).expect("a link");
        let start = self.text[..at].rfind("http").expect("an absolute link");
        self.text[start..].split_whitespace().next().unwrap().to_owned()
    }
}

/// The folder mails land in: kept when the server restarts on the same port.
pub struct Mailbox {
    pub dir: tempfile::TempDir,
}

impl Mailbox {
    pub fn new() -> Mailbox {
        Mailbox { dir: tempfile::tempdir().unwrap() }
    }

    /// Every mail received so far, oldest first.
    pub fn all(&self) -> Vec<ReceivedMail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                ReceivedMail {
                    to: v["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
                    subject: v["subject"].as_str().unwrap_or_default().to_owned(),
                    text: v["text"].as_str().unwrap_or_default().to_owned(),
                    html: v["html"].as_str().unwrap_or_default().to_owned(),
                }
            })
            .collect()
    }

    /// Waits (up to `within`) until `count` mails have arrived; returns them all.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<ReceivedMail> {
        let start = std::time::Instant::now();
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            assert!(start.elapsed() < within, "{} of {count} mails after {within:?}", all.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The mails to `to` with a link to `path` (`/reset-password`, `/verify-email`).
    pub fn with_link(&self, to: &str, path: &str) -> Vec<ReceivedMail> {
        let marker = format!("{path}?code=");
        self.all().into_iter().filter(|m| m.to == [to] && m.text.contains(&marker)).collect()
    }

    /// Waits for the `nth` (from 0) mail to `to` with a link to `path`.
    pub async fn nth_link(&self, to: &str, path: &str, nth: usize) -> ReceivedMail {
        let start = std::time::Instant::now();
        loop {
            if let Some(m) = self.with_link(to, path).get(nth) {
                return m.clone();
            }
            assert!(start.elapsed() < Duration::from_secs(15), "no mail #{nth} to {to} with {path}: {:?}", self.all());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The SMTP server process; killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
}

impl SmtpSink {
    /// A free loopback port nothing listens on (yet).
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    pub async fn start(mailbox: &Mailbox) -> SmtpSink {
        SmtpSink::start_on(Self::free_port(), mailbox).await
    }

    pub async fn start_on(port: u16, mailbox: &Mailbox) -> SmtpSink {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python/smtp_sink.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(mailbox.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (scripts/test installs aiosmtpd)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref l))) if l == "ready"),
            "the SMTP sink did not start (is aiosmtpd installed? python3 -m pip install aiosmtpd): {ready:?}"
        );
        SmtpSink { port, child }
    }

    /// The `--smtp-url` of this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
