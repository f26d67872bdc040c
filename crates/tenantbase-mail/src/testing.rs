//! A real SMTP server for tests (feature `testing`): Python's `aiosmtpd` on a free
//! loopback port, keeping what it receives in a Maildir. It is installed with pip when
//! missing, and a test that cannot get it fails saying so: it never skips.
//!
//! ```no_run
//! let server = tenantbase_mail::testing::SmtpServer::start();
//! // … send to 127.0.0.1:server.port() with security `none` …
//! let raw: Vec<String> = server.messages();
//! ```

use std::fs::File;
use std::io::{Read, Seek};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// The interpreter that runs the server.
const PYTHON: &str = "python3";
/// Longest wait for `pip install aiosmtpd`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for a started server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Fresh ports tried when the one picked was taken in the meantime.
const PORT_ATTEMPTS: usize = 3;

/// Runs aiosmtpd's command line (`python3 -m aiosmtpd …`) and also exits when its stdin
/// closes: stdin is a pipe from the test process, so a test run that is killed leaves no
/// server behind.
const SERVER_SCRIPT: &str = "\
import os, sys, threading
from aiosmtpd.main import main
def exit_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=exit_with_parent, daemon=True).start()
main(sys.argv[1:])
";

/// A running aiosmtpd on `127.0.0.1:port()`, no TLS, no authentication. Dropping it
/// kills the server and deletes the Maildir.
#[derive(Debug)]
pub struct SmtpServer {
    child: Option<Child>,
    port: u16,
    root: tempfile::TempDir,
}

impl SmtpServer {
    /// Installs aiosmtpd if needed, starts it and waits until it accepts connections.
    /// Panics, saying why, when any of that fails.
    pub fn start() -> Self {
        ensure_aiosmtpd();
        let root = tempfile::Builder::new()
            .prefix("tenantbase-smtp-")
            .tempdir()
            .unwrap_or_else(|e| panic!("SmtpServer: creating a temporary directory: {e}"));
        let mut server = Self {
            child: None,
            port: 0,
            root,
        };
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("SmtpServer: aiosmtpd did not start: {last_error}");
    }

    /// The loopback port the server listens on (stable across `restart`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server; connections to the port are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already gone is fine: the point is that it no longer runs.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and Maildir.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!("SmtpServer: restarting aiosmtpd on port {}: {e}", self.port);
        }
    }

    /// Every message received so far, oldest first, as raw RFC 5322 text (as the Maildir
    /// stores it: lines end in `\n`, and aiosmtpd adds `X-Peer`, `X-MailFrom`,
    /// `X-RcptTo` headers).
    pub fn messages(&self) -> Vec<String> {
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((modified, entry.path()));
            }
        }
        found.sort();
        found
            .into_iter()
            .map(|(_, path)| {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("SmtpServer: reading {}: {e}", path.display()));
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    }

    /// `messages()` once there are at least `count`, for mail sent in the background;
    /// panics after `timeout`.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "SmtpServer: {} message(s) after {timeout:?}, expected {count}",
                    messages.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn maildir(&self) -> PathBuf {
        self.root.path().join("maildir")
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    /// Starts the process and waits until the port accepts connections.
    fn spawn(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("opening the server log: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("opening the server log: {e}"))?;
        let child = Command::new(PYTHON)
            .arg("-c")
            .arg(SERVER_SCRIPT)
            .args(["-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("running {PYTHON}: {e}"))?;
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(250)).is_ok() {
                return Ok(());
            }
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("it exited ({status}); log:\n{}", self.log()));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "port {} not accepting after {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes `import aiosmtpd` work, once per test process; panics when it cannot.
fn ensure_aiosmtpd() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let import = [PYTHON, "-c", "import aiosmtpd"];
        if run_bounded(&import, INSTALL_TIMEOUT).is_ok() {
            return Ok(());
        }
        let install = [PYTHON, "-m", "pip", "install", "--quiet", "aiosmtpd"];
        eprintln!(
            "SmtpServer: aiosmtpd is missing; running `{}`",
            install.join(" ")
        );
        let installed = run_bounded(&install, INSTALL_TIMEOUT);
        if run_bounded(&import, INSTALL_TIMEOUT).is_ok() {
            return Ok(());
        }
        Err(match installed {
            Ok(output) | Err(output) => output,
        })
    });
    if let Err(output) = ready {
        panic!(
            "SmtpServer needs Python 3 with the aiosmtpd package (PyPI) and could not install \
             it with `{PYTHON} -m pip install aiosmtpd`. Install it by hand (e.g. \
             `apt-get install python3-aiosmtpd`, or pip in the Python that `{PYTHON}` runs). \
             What pip said:\n{output}"
        );
    }
}

/// Runs `command` with a time limit; `Ok(output)` when it exits with status 0, else
/// `Err(output or reason)`. Output goes through a file, so a chatty command cannot block
/// on a full pipe.
fn run_bounded(command: &[&str], timeout: Duration) -> Result<String, String> {
    let [program, args @ ..] = command else {
        return Err("empty command".to_owned());
    };
    let mut output = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
    let stderr = output
        .try_clone()
        .map_err(|e| format!("temporary file: {e}"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(
            output
                .try_clone()
                .map_err(|e| format!("temporary file: {e}"))?,
        )
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{}` took longer than {timeout:?}",
                    command.join(" ")
                ));
            }
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let mut text = String::new();
    let _ = output.rewind();
    let _ = output.read_to_string(&mut text);
    if status.success() {
        Ok(text)
    } else {
        Err(format!(
            "`{}` exited with {status}:\n{text}",
            command.join(" ")
        ))
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("SmtpServer: finding a free loopback port: {e}"))
}
