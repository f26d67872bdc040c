//! Connections that never finish a request, against the real binary: a client that sends
//! part of its headers, or nothing, or stays idle after an answer is cut off at
//! `http.header_read_timeout_secs`, so it cannot hold a descriptor and a task for good.
//! The HTTP layer is the same whatever the store, so SQLite serves here.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
