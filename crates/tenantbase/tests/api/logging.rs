//! The request log of the real binary: probes stay out of it unless asked for, and a log
//! reader that stops reading costs dropped (and counted) lines, never stalled requests.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use futures::StreamExt;

use crate::process::{Server, client, tenantbase};

const SCRAPE_TOKEN: &str = "a-long-scrape-token";

/// GETs `path` with `x-request-id: id` (and `authorization` when given); the status.
async fn get(server: &Server, path: &str, id: &str, authorization: Option<&str>) -> u16 {
    let mut request = client().get(server.url(path)).header("x-request-id", id);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("request").status().as_u16()
}

/// Probes each probe route (`/metrics` once without its token, so once failing), then
/// waits for the line of a request made after them; answers the request ids logged.
async fn logged_probes(probes: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(
        tenantbase(dir.path())
            .env("TENANTBASE_LOG__PROBES", probes)
            .env("TENANTBASE_METRICS__TOKEN", SCRAPE_TOKEN)
            .env("TENANTBASE_JOBS__WORKERS", "0"),
    );
    let bearer = format!("Bearer {SCRAPE_TOKEN}");
    assert_eq!(get(&server, "/health", "probe-health", None).await, 200);
    assert_eq!(get(&server, "/ready", "probe-ready", None).await, 200);
    assert_eq!(
        get(&server, "/metrics", "probe-metrics", Some(&bearer)).await,
        200
    );
    assert_eq!(
        get(&server, "/metrics", "probe-refused", None).await,
        401,
        "a scrape without the token fails"
    );
    assert_eq!(get(&server, "/", "after-probes", None).await, 200);
    // One writer thread keeps the order of lines: the probes' come before this one or never.
    server.wait_for_line(|l| l["span"]["request_id"] == "after-probes");
    server
        .seen
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request")
        .filter_map(|line| line["span"]["request_id"].as_str().map(str::to_owned))
        .filter(|id| id.starts_with("probe-"))
        .collect()
}

#[tokio::test]
async fn successful_probes_are_logged_only_when_configured() {
    assert_eq!(
        logged_probes("false").await,
        vec!["probe-refused"],
        "by default only a failing probe is logged"
    );
    assert_eq!(
        logged_probes("true").await,
        vec![
            "probe-health",
            "probe-ready",
            "probe-metrics",
            "probe-refused"
        ],
        "log.probes = true logs every probe"
    );
}

/// A server whose stdout nobody reads once it listens: the pipe fills and stays full,
/// as when a log collector stalls.
struct UnreadServer {
    child: Child,
    /// Held open and unread: closing it would fail the writes instead of stalling them.
    _stdout: BufReader<ChildStdout>,
    addr: String,
}

impl UnreadServer {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let addr = loop {
            line.clear();
            let read = stdout.read_line(&mut line).expect("log line");
            assert!(read > 0, "the server ended before listening");
            let value: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            if value["message"] == "listening" {
                break value["addr"].as_str().expect("addr").to_owned();
            }
        };
        Self {
            child,
            _stdout: stdout,
            addr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for UnreadServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `log_lines_dropped_total` as `/metrics` shows it.
async fn dropped_lines(server: &UnreadServer) -> u64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix("log_lines_dropped_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no log_lines_dropped_total in\n{text}"))
}

#[tokio::test]
async fn a_stalled_log_reader_costs_counted_lines_not_stalled_requests() {
    const REQUESTS: u64 = 3000;
    /// Lines that can leave the queue while nobody reads: the pipe (64 KiB) and the
    /// writer's buffer (64 KiB) at well over 100 bytes a line, and the queue itself.
    const ROOM: u64 = 2 * 64 * 1024 / 100 + QUEUE;
    const QUEUE: u64 = 16;
    let dir = tempfile::tempdir().expect("dir");
    let server = UnreadServer::start(
        tenantbase(dir.path())
            .env("TENANTBASE_LOG__QUEUE_LINES", QUEUE.to_string())
            .env("TENANTBASE_JOBS__WORKERS", "0"),
    );
    assert_eq!(dropped_lines(&server).await, 0, "the counter starts at 0");

    let http = client();
    let answered: Vec<u16> = futures::stream::iter(0..REQUESTS)
        .map(|_| {
            let request = http.get(server.url("/")).send();
            async move { request.await.expect("answered").status().as_u16() }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(answered.iter().all(|status| *status == 200));

    let dropped = dropped_lines(&server).await;
    assert!(
        dropped >= REQUESTS - ROOM,
        "{dropped} of {REQUESTS} request lines dropped: the log buffered more than {ROOM}"
    );
}
