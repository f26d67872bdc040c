//! Connections that never finish a request, against the real binary: a client that sends
//! part of its headers, or nothing, or stays idle after an answer is cut off at
//! `http.header_read_timeout_secs`; one that stops reading its answer, at
//! `http.write_timeout_secs`. Neither can hold a descriptor and a task for good. The HTTP
//! layer is the same whatever the store, so SQLite serves here.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backup_support::upload;
use crate::errors::read_answer;
use crate::process::{Server, tenantbase};

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: tenantbase\r\n\r\n";

/// How long the server took to close `stream` from `since`, reading (and dropping) what
/// it sends; fails after `limit`.
async fn closed_after(stream: &mut TcpStream, since: Instant, limit: Duration) -> Duration {
    let mut sink = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut sink))
        .await
        .expect("the server kept the connection open")
        .expect("read to the end");
    since.elapsed()
}

#[tokio::test]
async fn connections_without_a_whole_request_end_at_the_header_deadline() {
    let dir = tempfile::tempdir().expect("dir");
    let server =
        Server::start(tenantbase(dir.path()).env("TENANTBASE_HTTP__HEADER_READ_TIMEOUT_SECS", "2"));
    // Each watched while the kept-alive connection below is used: (what, closed after).
    let watch = |mut stream: TcpStream, since: Instant| {
        tokio::spawn(async move { closed_after(&mut stream, since, Duration::from_secs(10)).await })
    };
    let started = Instant::now();
    let mut partial = TcpStream::connect(&server.addr).await.expect("connect");
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: tenantbase\r\n")
        .await
        .expect("write");
    let partial = ("partial headers", watch(partial, started));
    let silent = TcpStream::connect(&server.addr).await.expect("connect");
    let silent = ("no request at all", watch(silent, Instant::now()));
    let mut idle = TcpStream::connect(&server.addr).await.expect("connect");
    idle.write_all(HEALTH).await.expect("write");
    assert!(read_answer(&mut idle).await.starts_with("HTTP/1.1 200"));
    let idle = ("idle after an answer", watch(idle, Instant::now()));

    // A kept-alive connection that asks again in time is answered as usual, however long
    // it lives: the deadline counts from each answer (4 × 0.9 s outlasts one deadline).
    let mut reused = TcpStream::connect(&server.addr).await.expect("connect");
    for _ in 0..4 {
        reused.write_all(HEALTH).await.expect("write");
        assert!(read_answer(&mut reused).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    reused.write_all(HEALTH).await.expect("write");
    assert!(read_answer(&mut reused).await.starts_with("HTTP/1.1 200"));
    let reused = ("idle after its fifth answer", watch(reused, Instant::now()));

    for (name, closed) in [partial, silent, idle, reused] {
        let after = closed.await.expect("watched");
        assert!(
            (Duration::from_millis(1900)..Duration::from_millis(4000)).contains(&after),
            "{name}: closed after {after:?}, not at the 2 s deadline"
        );
    }
}

/// Bytes of a download's body that reach a client which reads nothing for `pause`, then
/// reads to the end; and the length its answer declared. Its receive buffer is kept small,
/// so the server's writes stall as soon as the socket buffers are full.
async fn body_after_pause(
    server: &Server,
    path: &str,
    token: &str,
    pause: Duration,
) -> (usize, usize) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut stream = socket
        .connect(server.addr.parse().expect("address"))
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: tenantbase\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(pause).await;
    let mut answer = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let reading = async {
        // A reset after the server gave up ends the answer as an end of stream does.
        while let Ok(read @ 1..) = stream.read(&mut chunk).await {
            answer.extend_from_slice(&chunk[..read]);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the answer ended");
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let declared = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    (answer.len() - head_end - 4, declared)
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answer_is_cut_off_at_the_write_deadline() {
    let dir = tempfile::tempdir().expect("dir");
    let server =
        Server::start(tenantbase(dir.path()).env("TENANTBASE_HTTP__WRITE_TIMEOUT_SECS", "2"));
    let (token, org) = server.guest_with_org("Downloads").await;
    // Far more than loopback's socket buffers hold, so the server's writes must wait.
    let bytes: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
    let file = upload(&server, &token, &org, "big.bin", &bytes).await;
    let path = format!("/v1/orgs/{org}/files/{file}/content");

    let (paused, declared) = body_after_pause(&server, &path, &token, Duration::from_secs(1)).await;
    assert_eq!(
        (paused, declared),
        (bytes.len(), bytes.len()),
        "a pause shorter than the deadline loses nothing"
    );
    let (stopped, declared) =
        body_after_pause(&server, &path, &token, Duration::from_secs(5)).await;
    assert_eq!(declared, bytes.len());
    assert!(
        stopped < bytes.len() / 2,
        "the server waited for a reader that stopped: {stopped} of {declared} bytes sent"
    );
}
