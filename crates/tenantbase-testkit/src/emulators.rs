//! Real object-store servers on loopback for the storage tests: moto's S3 server (PyPI)
//! and Azurite's Blob service (npm). Each is installed once into
//! `$HOME/.cache/tenantbase-emulators` (or `TENANTBASE_EMULATORS_DIR`) and started per
//! test on a free port; dropping the handle stops it. A failed install or start fails the
//! test with what to fix — never a silent skip.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::{free_port, run};

/// Pinned so every machine tests against the same servers.
const MOTO: &str = "moto[server]==5.2.5";
const AZURITE: &str = "azurite@3.35.0";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Tests of one binary run in parallel: one installs, the others wait for it.
static INSTALLING: Mutex<()> = Mutex::new(());

/// A running emulator; stopped on drop.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Emulator {
    /// Stops the server now (to test what a store that stopped answering does).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cache_dir() -> PathBuf {
    std::env::var_os("TENANTBASE_EMULATORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
            PathBuf::from(home).join(".cache/tenantbase-emulators")
        })
}

/// Runs `install` unless `program` is already there; answers the program's path.
fn installed(
    program: PathBuf,
    what: &str,
    install: impl FnOnce() -> Result<(), String>,
) -> PathBuf {
    let _guard = INSTALLING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !program.is_file() {
        eprintln!(
            "installing {what} into {} (once per machine)",
            cache_dir().display()
        );
        if let Err(error) = install() {
            panic!("the object-store tests need {what}, and installing it failed: {error}");
        }
    }
    assert!(
        program.is_file(),
        "{what} installed, but {} is missing",
        program.display()
    );
    program
}

fn start(mut command: Command, what: &str) -> Emulator {
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    command
        .args(port_args(what, port))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what} ({command:?}): {e}"));
    let mut emulator = Emulator {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = emulator.child.try_wait() {
            panic!("{what} exited at start ({status})");
        }
        if Instant::now() > deadline {
            emulator.stop();
            panic!("{what} did not listen on port {port} within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    emulator
}

fn port_args(what: &str, port: u16) -> Vec<String> {
    let port = port.to_string();
    if what == "moto" {
        vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port]
    } else {
        vec![
            "--blobHost".into(),
            "127.0.0.1".into(),
            "--blobPort".into(),
            port,
        ]
    }
}

/// moto's S3 server; buckets are created with a plain `PUT /<bucket>`.
pub fn moto() -> Emulator {
    let venv = cache_dir().join("moto-venv");
    let program = installed(venv.join("bin/moto_server"), "moto (PyPI)", || {
        std::fs::create_dir_all(cache_dir()).map_err(|e| e.to_string())?;
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", MOTO]))
    });
    start(Command::new(program), "moto")
}

/// Azurite's Blob service, in memory, with the well-known development account
/// (`devstoreaccount1`, key in `AZURITE_KEY`).
pub fn azurite() -> Emulator {
    let prefix = cache_dir().join("azurite");
    let program = installed(
        prefix.join("node_modules/.bin/azurite-blob"),
        "Azurite (npm)",
        || {
            std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
            run(Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(AZURITE))
        },
    );
    let mut command = Command::new(program);
    command.args([
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--silent",
    ]);
    start(command, "azurite")
}

/// Azurite's development account and its published key.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Emulator {
    /// Creates an S3 bucket (moto takes an unsigned `PUT /<bucket>`).
    pub fn create_bucket(&self, bucket: &str) {
        self.send_put(&format!("/{bucket}"), &[]);
    }

    /// Creates a Blob container, signed with the development account's shared key.
    pub fn create_container(&self, container: &str) {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD;
        use hmac::Mac;
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let string_to_sign = format!(
            "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container",
            "\n".repeat(12)
        );
        let key = STANDARD
            .decode(AZURITE_KEY)
            .expect("the published key is base64");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(string_to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        self.send_put(
            &format!("/{AZURITE_ACCOUNT}/{container}?restype=container"),
            &[
                ("x-ms-date", date),
                ("x-ms-version", version.to_owned()),
                (
                    "authorization",
                    format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
                ),
            ],
        );
    }

    /// An empty `PUT` over a plain socket; panics unless the answer is 2xx.
    fn send_put(&self, target: &str, headers: &[(&str, String)]) {
        use std::io::{Read, Write};
        let host = self.url.trim_start_matches("http://");
        let mut request = format!(
            "PUT {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\nconnection: close\r\n"
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream =
            TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
        stream
            .write_all(request.as_bytes())
            .expect("sending the request");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let status = answer.split_whitespace().nth(1).unwrap_or("none");
        assert!(
            status.starts_with('2'),
            "PUT {target} answered {status}: {answer}"
        );
    }
}
