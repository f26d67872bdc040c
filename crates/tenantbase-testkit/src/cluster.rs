//! A throwaway PostgreSQL cluster on a free loopback port, made with the machine's own
//! `initdb` and `pg_ctl`. Tests use it to stop, restart or freeze a real database
//! without touching the shared server; the test harness falls back to it when no server
//! is reachable.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster. Dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct PgCluster {
    bin_dir: PathBuf,
    root: tempfile::TempDir,
    port: u16,
    /// PostgreSQL refuses to run as root; then every command runs as `postgres`.
    run_as_postgres: bool,
}

impl PgCluster {
    /// Initialises and starts a cluster with trust authentication for `postgres`.
    pub fn start() -> Result<Self, String> {
        let bin_dir = find_bin_dir()?;
        let run_as_postgres = is_root()?;
        let root = tempfile::Builder::new()
            .prefix("tenantbase-pg-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        if run_as_postgres {
            run(Command::new("chown").arg("postgres").arg(root.path()))?;
        }
        let port = free_port()?;
        let cluster = Self {
            bin_dir,
            root,
            port,
            run_as_postgres,
        };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        cluster.resume_service()?;
        Ok(cluster)
    }

    /// A URL for the `postgres` database of this cluster.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: open sessions are ended).
    pub fn stop_service(&self) -> Result<(), String> {
        self.pg(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"],
        )
    }

    /// Starts the server again on the same port and data.
    pub fn resume_service(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.root.path().display()
        );
        let log = self.root.path().join("server.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    /// Suspends every server process (SIGSTOP): connections hang instead of failing,
    /// like a database that stopped answering.
    pub fn freeze(&self) -> Result<(), String> {
        self.signal_all("-STOP")
    }

    /// Undoes `freeze`.
    pub fn thaw(&self) -> Result<(), String> {
        self.signal_all("-CONT")
    }

    /// Leaves the cluster running until this test process exits, then stops and removes
    /// it (a watchdog shell polls the process), and returns its URL.
    pub fn keep_until_process_exit(self) -> String {
        let url = self.url();
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{root}'",
            pid = std::process::id(),
            stop = self.as_user(&format!(
                "'{}' -D '{}' -m immediate stop",
                pg_ctl.display(),
                self.data_dir()
            )),
            root = self.root.path().display(),
        );
        let spawned = Command::new("sh").arg("-c").arg(script).spawn();
        if let Err(e) = spawned {
            eprintln!(
                "warning: no watchdog for the throwaway cluster ({e}); it outlives the tests"
            );
        }
        // The watchdog owns the clean-up now.
        std::mem::forget(self);
        url
    }

    fn data_dir(&self) -> String {
        self.root.path().join("data").display().to_string()
    }

    fn signal_all(&self, signal: &str) -> Result<(), String> {
        let pid_file = Path::new(&self.data_dir()).join("postmaster.pid");
        let pid_text = std::fs::read_to_string(&pid_file)
            .map_err(|e| format!("{}: {e}", pid_file.display()))?;
        let postmaster = pid_text
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let mut pids = children_of(&postmaster);
        pids.push(postmaster);
        run(Command::new("kill").arg(signal).args(&pids))
    }

    fn as_user(&self, command: &str) -> String {
        if self.run_as_postgres {
            format!("runuser -u postgres -- {command}")
        } else {
            command.to_owned()
        }
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin_dir.join(tool);
        let mut command = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        run(command.args(args))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.thaw();
        let _ = self.pg(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        );
    }
}

pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The directory holding `initdb` and `pg_ctl`: from `PATH`, else Debian's layout.
fn find_bin_dir() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().map(|d| d.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort();
    debian.reverse();
    on_path
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| {
            "initdb and pg_ctl were not found on PATH or under /usr/lib/postgresql".to_owned()
        })
}

fn is_root() -> Result<bool, String> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("running id: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

pub(crate) fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Process ids whose parent is `parent`, read from `/proc`.
fn children_of(parent: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // Fields after the parenthesised command name: state, then ppid.
            let after_name = &stat[stat.rfind(')')? + 1..];
            let ppid = after_name.split_whitespace().nth(1)?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}
