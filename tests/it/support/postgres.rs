//! A PostgreSQL server owned by one test, which the test can stop and start
//! (the outage test). Same recipe as scripts/lib/postgres.sh: Debian's
//! binaries, initdb into a temporary folder, a free port; as root the server
//! runs as the `postgres` user, since initdb refuses root. It may speak only
//! TLS, with certificates the test makes (the database-TLS test).

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
        let cluster = PgCluster::init();
        cluster.resume();
        cluster
    }

    /// A server that speaks only TLS, with `certs`' server certificate:
    /// `ssl = on`, and pg_hba.conf lets TCP clients in by `hostssl` only.
    pub fn start_tls_only(certs: &TestCertificates) -> PgCluster {
        let cluster = PgCluster::init();
        let data = Path::new(&cluster.data);
        for (from, to) in [(&certs.server_cert, "server.crt"), (&certs.server_key, "server.key")] {
            std::fs::copy(from, data.join(to)).unwrap();
            if is_root() {
                assert!(Command::new("chown").arg("postgres").arg(data.join(to)).status().unwrap().success());
            }
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .unwrap();
        cluster.resume();
        cluster
    }

    /// A new cluster, not yet started.
    fn init() -> PgCluster {
        let bin = bindir();
        let dir = tempfile::Builder::new().prefix("tachi-auth-pg").tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown").arg("postgres").arg(dir.path()).status().unwrap().success();
            assert!(ok, "chown the cluster folder to postgres");
        }
        let data = dir.path().join("data").to_str().expect("an ASCII temporary path").to_owned();
        run(&bin, "initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"]);
        PgCluster { bin, data, dir, port: free_port() }
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

/// Certificates for a TLS test, made by the `openssl` command (installed
/// with Debian's postgresql): a CA, a server certificate it signed for
/// 127.0.0.1 and localhost, and a second CA that signed nothing here.
pub struct TestCertificates {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCertificates {
    pub fn make() -> TestCertificates {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for ca in ["ca", "other-ca"] {
            let (key, crt, subject) = (format!("{ca}.key"), format!("{ca}.crt"), format!("/CN=tachi-auth test {ca}"));
            let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject, "-keyout", &key, "-out", &crt];
            args.extend(ec);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
            openssl(&args);
        }
        let mut request = vec!["req", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"];
        request.extend(ec);
        openssl(&request);
        std::fs::write(
            path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        TestCertificates {
            ca: path("ca.crt"),
            other_ca: path("other-ca.crt"),
            server_cert: path("server.crt"),
            server_key: path("server.key"),
            _dir: dir,
        }
    }
}
