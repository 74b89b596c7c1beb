//! A PostgreSQL server owned by one test, which the test can stop and start
//! (the outage test). Same recipe as scripts/lib/postgres.sh: Debian's
//! binaries, initdb into a temporary folder, a free port; as root the server
//! runs as the `postgres` user, since initdb refuses root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PgCluster {
    bin: PathBuf,
    data: String,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn bindir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries are installed (./scripts/test installs Debian's postgresql)")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("a PostgreSQL version under /usr/lib/postgresql").1
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> std::io::Result<Output> {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    cmd.args(args).output()
}

fn run(bin: &Path, tool: &str, args: &[&str]) {
    let out = pg_tool(bin, tool, args).unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let bin = bindir();
        let dir = tempfile::Builder::new().prefix("tachi-auth-pg").tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown").arg("postgres").arg(dir.path()).status().unwrap().success();
            assert!(ok, "chown the cluster folder to postgres");
        }
        let data = dir.path().join("data").to_str().expect("an ASCII temporary path").to_owned();
        run(&bin, "initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"]);
        let cluster = PgCluster { bin, data, dir, port: free_port() };
        cluster.resume();
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash or a network cut looks to clients.
    pub fn stop(&self) {
        run(&self.bin, "pg_ctl", &["-D", &self.data, "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the server (again) on the same port.
    pub fn resume(&self) {
        let opts =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("log");
        run(&self.bin, "pg_ctl", &["-D", &self.data, "-l", log.to_str().unwrap(), "-o", &opts, "-w", "start"]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = pg_tool(&self.bin, "pg_ctl", &["-D", &self.data, "-m", "immediate", "-w", "stop"]);
    }
}
