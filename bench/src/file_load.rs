//! File scenarios on the local store: 1 MiB uploads, 1 MiB downloads and 256 KiB ranged
//! downloads, each as MiB/s beside a raw copy of the same bytes with `dd` (the ceiling);
//! and the server's RSS while one 1 GiB upload streams through it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::load::{self, Flow};
use crate::org_load::{Fixture, authorized, call};

pub const MIB: usize = 1024 * 1024;
/// Bytes of each ranged read.
pub const RANGE_BYTES: usize = 256 * 1024;
/// The file ranged reads pick from.
const RANGE_FILE_BYTES: usize = 64 * MIB;

/// Bytes that differ along the file (no compressible runs).
fn pattern(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>())
}

fn upload_request(fixture: &Fixture, name: &str, body: Bytes) -> Request<Full<Bytes>> {
    let request = Request::post(format!("/v1/orgs/{}/files?name={name}", fixture.org))
        .header("host", "127.0.0.1")
        .header("content-type", "application/octet-stream")
        .body(Full::new(body))
        .expect("valid request");
    authorized(request, &fixture.token)
}

/// Uploads `bytes` once (set-up) and answers the file's content path.
pub async fn stored(addr: SocketAddr, fixture: &Fixture, bytes: Bytes) -> anyhow::Result<String> {
    let file = call(
        addr,
        upload_request(fixture, "fixture.bin", bytes),
        StatusCode::CREATED,
    )
    .await?;
    let id = file["id"].as_str().unwrap_or_default();
    Ok(format!("/v1/orgs/{}/files/{id}/content", fixture.org))
}

/// Uploads the same 1 MiB body, as a new file each time.
struct Uploads {
    fixture: Arc<Fixture>,
    body: Bytes,
}

impl Flow for Uploads {
    fn request(&mut self) -> Request<Full<Bytes>> {
        upload_request(&self.fixture, "upload.bin", self.body.clone())
    }

    fn response(&mut self, status: StatusCode, _: &[u8]) -> bool {
        status == StatusCode::CREATED
    }
}

pub fn upload_flows(fixture: Arc<Fixture>, connections: usize) -> Vec<Box<dyn Flow>> {
    let body = pattern(MIB);
    (0..connections)
        .map(|_| {
            Box::new(Uploads {
                fixture: fixture.clone(),
                body: body.clone(),
            }) as Box<dyn Flow>
        })
        .collect()
}

/// GETs a file, whole or a range at a moving offset; checks the length of each answer.
struct Downloads {
    path: String,
    token: String,
    range: Option<(usize, usize)>,
    expect: usize,
}

impl Flow for Downloads {
    fn request(&mut self) -> Request<Full<Bytes>> {
        let mut request = Request::get(self.path.as_str()).header("host", "127.0.0.1");
        if let Some((offset, step)) = self.range.as_mut() {
            let start = *offset;
            *offset = (*offset + *step) % (RANGE_FILE_BYTES - RANGE_BYTES);
            request = request.header(
                "range",
                format!("bytes={start}-{}", start + RANGE_BYTES - 1),
            );
        }
        authorized(
            request
                .body(Full::new(Bytes::new()))
                .expect("valid request"),
            &self.token,
        )
    }

    fn response(&mut self, status: StatusCode, body: &[u8]) -> bool {
        status.is_success() && body.len() == self.expect
    }
}

pub async fn download_flows(
    addr: SocketAddr,
    fixture: &Fixture,
    connections: usize,
    ranged: bool,
) -> anyhow::Result<Vec<Box<dyn Flow>>> {
    let size = if ranged { RANGE_FILE_BYTES } else { MIB };
    let path = stored(addr, fixture, pattern(size)).await?;
    Ok((0..connections)
        .map(|i| {
            Box::new(Downloads {
                path: path.clone(),
                token: fixture.token.clone(),
                // Connections start apart and stride by a prime number of KiB.
                range: ranged
                    .then_some(((i * 7 * MIB) % (RANGE_FILE_BYTES - RANGE_BYTES), 997 * 1024)),
                expect: if ranged { RANGE_BYTES } else { MIB },
            }) as Box<dyn Flow>
        })
        .collect())
}

/// MiB/s of `dd` copying `total` bytes from a file in `dir` to another there, in
/// blocks of `block` — the same bytes the server moves, without HTTP, hashing or a
/// database. The source is read once first, so both sides start from the page cache.
/// Without `durable`, dd only copies into the page cache (the target is truncated and
/// rewritten, so it reuses the pages it freed) and nothing waits for the disk; with it,
/// dd also fsyncs the target before it exits (`conv=fsync`), once for all its bytes.
pub fn dd_ceiling(dir: &Path, total: usize, block: usize, durable: bool) -> anyhow::Result<f64> {
    let source = dir.join("dd-source.bin");
    std::fs::write(&source, pattern(total))?;
    let target = dir.join("dd-target.bin");
    let run = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut dd = Command::new("dd");
        dd.arg(format!("if={}", source.display()))
            .arg(format!("of={}", target.display()))
            .arg(format!("bs={block}"))
            .arg("status=none");
        if durable {
            dd.arg("conv=fsync");
        }
        let status = dd.status()?;
        anyhow::ensure!(status.success(), "dd failed: {status}");
        Ok(started.elapsed())
    };
    run()?;
    let mut times: Vec<Duration> = (0..5).map(|_| run()).collect::<anyhow::Result<_>>()?;
    times.sort();
    std::fs::remove_file(&source)?;
    std::fs::remove_file(&target)?;
    Ok(total as f64 / MIB as f64 / times[2].as_secs_f64())
}

/// Streams one upload of `total` bytes in 64 KiB chunks, never holding more than a chunk
/// on the client side; answers how long it took.
pub async fn stream_upload(
    addr: SocketAddr,
    fixture: &Fixture,
    total: usize,
) -> anyhow::Result<Duration> {
    const CHUNK: usize = 64 * 1024;
    let chunk = pattern(CHUNK);
    let chunks = futures::stream::iter(0..total / CHUNK)
        .map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone())));
    let request = Request::post(format!("/v1/orgs/{}/files?name=large.bin", fixture.org))
        .header("host", "127.0.0.1")
        .header("content-type", "application/octet-stream")
        .header("authorization", format!("Bearer {}", fixture.token))
        .body(StreamBody::new(chunks))?;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "large upload answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(started.elapsed())
}

/// Throughput of `report` when each request moved `bytes`.
pub fn mib_per_s(report: &load::Report, bytes: usize) -> f64 {
    let ok = report.requests - report.errors;
    (ok as f64 * bytes as f64 / MIB as f64 / report.elapsed.as_secs_f64() * 10.0).round() / 10.0
}
