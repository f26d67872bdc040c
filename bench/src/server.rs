//! Starts the server under test on a free loopback port and watches its memory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tenantbase_testkit::TestDatabase;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A running server. Dropping it kills the process and removes its data.
pub struct Server {
    pub addr: std::net::SocketAddr,
    /// From spawning the process to the first 200 from `/ready`.
    pub cold_start: Duration,
    child: Child,
    _data: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl Server {
    pub async fn start(binary: &Path, backend: Backend) -> anyhow::Result<Self> {
        if !binary.is_file() {
            bail!(
                "{} not found: run `cargo build --release` first",
                binary.display()
            );
        }
        let data = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", &addr.to_string()])
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("DATABASE_URL")
            // Load comes from one address: lift the per-IP auth limits, which would
            // otherwise (rightly) stop it.
            .env("TENANTBASE_AUTH__RATE_LIMIT_PER_MINUTE", "4000000000")
            .env("TENANTBASE_AUTH__LOGIN_FAILURES_PER_IP", "4000000000")
            .env("TENANTBASE_AUTH__LOGIN_FAILURES_PER_ACCOUNT", "4000000000")
            // File scenarios upload gigabytes; the quota is not what they measure.
            .env("TENANTBASE_FILES__QUOTA_BYTES", "1099511627776")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let database = tenantbase_testkit::fresh_database().await;
                command.env("DATABASE_URL", &database.url);
                Some(database)
            }
        };
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            addr,
            cold_start: Duration::ZERO,
            child,
            _data: data,
            _database: database,
        };
        server.cold_start = server.wait_ready(started).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, started: Instant) -> anyhow::Result<Duration> {
        let deadline = started + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("server exited early: {status}");
            }
            if crate::load::probe(self.addr, "/ready").await == Some(200) {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        bail!("server not ready within 30 s")
    }

    /// Where the server keeps its data, for scenarios that seed it directly.
    pub fn database_url(&self) -> String {
        match &self._database {
            Some(database) => database.url.clone(),
            None => format!(
                "sqlite://{}",
                self._data.path().join("tenantbase.db").display()
            ),
        }
    }

    /// The server's data folder (its object store is `files/` in it).
    pub fn data_dir(&self) -> &Path {
        self._data.path()
    }

    pub fn rss_bytes(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// The CPU time each of the server's threads has used so far.
    pub fn cpu_times(&self) -> CpuTimes {
        CpuTimes::of(self.child.id())
    }

    /// Samples RSS every `every` until `stop` is called on the result.
    pub fn sample_peak_rss(&self, every: Duration) -> PeakRss {
        let pid = self.child.id();
        let peak = Arc::new(AtomicU64::new(rss_of(pid)));
        let running = Arc::new(AtomicBool::new(true));
        let thread = {
            let (peak, running) = (peak.clone(), running.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_of(pid), Ordering::Relaxed);
                    std::thread::sleep(every);
                }
            })
        };
        PeakRss {
            peak,
            running,
            thread,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct PeakRss {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakRss {
    pub fn stop(self) -> u64 {
        self.running.store(false, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// CPU time (nanoseconds) and times scheduled, per thread, from
/// `/proc/<pid>/task/<tid>/schedstat` (exact, where `/proc/<pid>/stat` counts whole clock
/// ticks: too coarse for a 1 ms request). Times scheduled counts every timeslice: mostly
/// the hand-offs between threads (a runtime worker's wake-up, SQLite's connection
/// thread's), with background tasks' and preemptions beside them.
pub struct CpuTimes(std::collections::HashMap<u32, (u64, u64)>);

impl CpuTimes {
    fn of(pid: u32) -> Self {
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let tid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"));
                let stat = stat.ok()?;
                let mut fields = stat.split_whitespace();
                let on_cpu = fields.next()?.parse::<u64>().ok()?;
                let scheduled = fields.nth(1)?.parse::<u64>().ok()?;
                Some((tid, (on_cpu, scheduled)))
            });
        Self(threads.collect())
    }

    /// Per thread, what it used since `earlier`: threads started since count in full; a
    /// thread that ended in between is lost (the runtime's threads outlive a request).
    fn deltas<'a>(&'a self, earlier: &'a CpuTimes) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.0.iter().map(|(tid, &(cpu, runs))| {
            let (cpu_before, runs_before) = earlier.0.get(tid).copied().unwrap_or((0, 0));
            (
                cpu.saturating_sub(cpu_before),
                runs.saturating_sub(runs_before),
            )
        })
    }

    /// CPU time used since `earlier`.
    pub fn since(&self, earlier: &CpuTimes) -> Duration {
        Duration::from_nanos(self.deltas(earlier).map(|(cpu, _)| cpu).sum())
    }

    /// How many times the server's threads were scheduled since `earlier`.
    pub fn runs_since(&self, earlier: &CpuTimes) -> u64 {
        self.deltas(earlier).map(|(_, runs)| runs).sum()
    }
}

/// Resident set size from `/proc/<pid>/status` (0 when unreadable).
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}
