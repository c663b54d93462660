//! A throw-away PostgreSQL cluster for tests: `initdb` into a temp folder, `pg_ctl` on a free loopback port with
//! trust authentication, one database per test (`createdb`), stopped (`pg_ctl stop -m immediate`) and deleted by a
//! watcher when the test process ends, even when a test panics. Debian's `postgresql` package provides the
//! programs (`/usr/lib/postgresql/N/bin`); `.ci/run` installs it. A missing package fails the test.
//!
//! `initdb` refuses to run as root: as root the cluster belongs to the package's `postgres` user (`runuser`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    /// Stops the cluster after this process ends (so it outlives us: never waited for).
    _watcher: Option<std::process::Child>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DBS: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// The process's one cluster, started on first use.
    pub fn get() -> &'static Cluster {
        CLUSTER.get_or_init(Cluster::start)
    }

    fn start() -> Cluster {
        let bin = bin_dir();
        let root = is_root();
        let dir = std::env::temp_dir().join(format!("exhunt-pg-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&dir).expect("create the cluster's folder");
        if root {
            let ok = Command::new("chown").arg("postgres:postgres").arg(&dir).status().expect("chown");
            assert!(ok.success(), "cannot give {} to the postgres user", dir.display());
        }
        let data = dir.join("data");
        let mut c = Cluster { port: free_port(), bin, dir, as_postgres: root, _watcher: None };
        c.run(
            "initdb",
            &["-D", &data.display().to_string(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=100",
            c.port,
            c.dir.display()
        );
        let log = c.dir.join("log");
        c.run(
            "pg_ctl",
            &["-D", &data.display().to_string(), "-l", &log.display().to_string(), "-o", &opts, "-w", "start"],
        );
        // Stop and delete the cluster when this process ends (statics are never dropped).
        let stop = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.5; done; {pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = c.bin.join("pg_ctl").display(),
            data = data.display(),
            dir = c.dir.display(),
        );
        let mut watcher = if c.as_postgres {
            let mut w = Command::new("runuser");
            w.args(["-u", "postgres", "--", "sh", "-c", &stop]);
            w
        } else {
            let mut w = Command::new("sh");
            w.args(["-c", &stop]);
            w
        };
        let child = watcher.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        c._watcher = Some(child.expect("the cluster's watcher"));
        c
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let out = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).current_dir(&self.dir).output()
        } else {
            Command::new(&exe).args(args).current_dir(&self.dir).output()
        }
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new, empty database; its `postgres://` URL.
    pub fn database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), DBS.fetch_add(1, Ordering::SeqCst));
        let port = self.port.to_string();
        self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", &name]);
        self.url(&name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

/// Debian's PostgreSQL programs: the newest `/usr/lib/postgresql/N/bin` with `initdb` in it.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!("PostgreSQL is not installed: `apt-get install postgresql` (Debian's package; .ci/run installs it)")
    })
}

fn is_root() -> bool {
    // `id -u`, not a libc call: the workspace forbids unsafe code.
    Command::new("id").arg("-u").output().ok().is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
