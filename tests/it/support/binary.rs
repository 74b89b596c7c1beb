//! The real `tachi-auth` binary in a process of its own, for what only a
//! process shows: its memory, its file limits, its signals and its output.

use std::process::Stdio;
use std::time::Duration;

use reqwest::Client;
use tokio::process::Child;
use tokio::task::JoinHandle;

pub struct RunningBinary {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub database_url: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    _dir: tempfile::TempDir,
    _db: Option<super::db::TestDatabase>,
}

/// What a one-shot command (`tachi-auth user …`, `config check …`) did.
pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tachi-auth ARGS` to its end in `dir` (a fresh folder if `None`),
/// with `env` and no other `TACHI_AUTH_*` setting from the environment.
pub async fn run(args: &[&str], env: &[(&str, &str)], dir: Option<&std::path::Path>) -> Finished {
    let fresh = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tachi-auth"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TACHI_AUTH_")) {
        command.env_remove(name);
    }
    let out = command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir.unwrap_or(fresh.path()))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.expect("the command ends").unwrap();
    Finished {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A loopback address no one listens on (yet).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

impl RunningBinary {
    /// `tachi-auth serve` on a fresh SQLite file and a free loopback port,
    /// with `args` added and no `TACHI_AUTH_*` setting from the environment.
    pub async fn start(args: &[&str], log_level: &str) -> RunningBinary {
        RunningBinary::start_with(args, log_level, None).await
    }

    /// As [`RunningBinary::start`], on `database` (a fresh SQLite file if `None`).
    pub async fn start_with(
        args: &[&str],
        log_level: &str,
        database: Option<super::db::TestDatabase>,
    ) -> RunningBinary {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let url = match &database {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.path().join("tachi-auth.db").display()),
        };
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tachi-auth"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TACHI_AUTH_")) {
            command.env_remove(name);
        }
        let mut child = command
            .arg("serve")
            .args(["--listen", &addr.to_string()])
            .args(["--database-url", url.as_str()])
            .args(args)
            .env("TACHI_AUTH_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        // Read the output as it comes: a full pipe would stop the server mid-log.
        let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
            tokio::spawn(async move {
                let mut text = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = Some(drain(child.stdout.take().map(|p| Box::new(p) as _)));
        let stderr = Some(drain(child.stderr.take().map(|p| Box::new(p) as _)));
        let mut running = RunningBinary {
            base: format!("http://{addr}"),
            addr,
            database_url: url,
            child,
            stdout,
            stderr,
            _dir: dir,
            _db: database,
        };
        let http = Client::new();
        for _ in 0..600 {
            if http.get(running.url("/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = running.child.kill().await;
        panic!("the binary did not come up:\n{}", running.output().await);
    }

    /// The harness's helpers (register, approve, exchange…), speaking to this process.
    pub fn helpers(&self) -> super::TestServer {
        super::TestServer::speaking_to(self.addr, &self.database_url)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// A line of `/proc/<pid>/<file>` by its label, e.g. `status` / `VmRSS:`.
    pub fn proc_line(&self, file: &str, label: &str) -> String {
        let text = std::fs::read_to_string(format!("/proc/{}/{file}", self.pid())).unwrap();
        text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label} in {file}")).to_owned()
    }

    /// Resident memory, in MB.
    pub fn rss_mb(&self) -> f64 {
        let line = self.proc_line("status", "VmRSS:");
        let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb / 1024.0
    }

    /// Sends SIGTERM; how long the process took to exit (`None`: not within `limit`).
    pub async fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let pid = self.pid() as libc::pid_t;
        let start = std::time::Instant::now();
        // SAFETY: signalling the child this test started, by its id.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let exited = tokio::time::timeout(limit, self.child.wait()).await.ok()?.ok()?;
        assert!(exited.success(), "the server exits cleanly on SIGTERM: {exited}");
        Some(start.elapsed())
    }

    /// What it printed on stdout (its log), once it has exited (or been killed).
    pub async fn stdout(&mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        match self.stdout.take() {
            Some(h) => h.await.unwrap(),
            None => String::new(),
        }
    }

    /// Everything it printed, once it has exited (or been killed).
    pub async fn output(&mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let out = match self.stdout.take() {
            Some(h) => h.await.unwrap(),
            None => String::new(),
        };
        let err = match self.stderr.take() {
            Some(h) => h.await.unwrap(),
            None => String::new(),
        };
        format!("{out}{err}")
    }
}

/// What an operator command printed, and whether it succeeded.
pub struct CommandOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tachi-auth <args>` to its end (an operator command), with no
/// `TACHI_AUTH_*` setting from the environment.
pub async fn run_command(args: &[&str]) -> CommandOutput {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tachi-auth"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TACHI_AUTH_")) {
        command.env_remove(name);
    }
    let out = command.args(args).stdin(Stdio::null()).output().await.expect("the binary runs");
    CommandOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
