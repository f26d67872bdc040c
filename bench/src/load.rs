//! The load generator: keep-alive HTTP/1.1 connections, each sending one request after
//! another until the time or request budget runs out, with latency in an HDR histogram.
//! What a connection sends is a `Flow`: the same GET every time, or a chain such as
//! refreshing a token with the one the previous answer returned.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Bounds of one run: whichever is reached first ends it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub duration: Duration,
    pub max_requests: u64,
    /// At the deadline, close each connection with its request in flight (as wrk does)
    /// instead of letting the request finish.
    pub cut_off: bool,
}

/// What one connection sends, request after request.
pub trait Flow: Send + 'static {
    fn request(&mut self) -> Request<Full<Bytes>>;

    /// Sees each answer; `false` counts it as an error.
    fn response(&mut self, status: StatusCode, body: &[u8]) -> bool {
        let _ = body;
        status.is_success()
    }

    /// The loopback address to connect from (the server's per-IP limits see each as a
    /// client of its own); `None`: the system's choice.
    fn local_ip(&self) -> Option<std::net::IpAddr> {
        None
    }
}

/// The same GET, with optional headers, every time.
#[derive(Clone)]
pub struct Get {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Flow for Get {
    fn request(&mut self) -> Request<Full<Bytes>> {
        let mut request = Request::get(self.path).header("host", "127.0.0.1");
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    }
}

pub struct Report {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    latencies_us: Histogram<u64>,
}

impl Report {
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        let us = self.latencies_us.value_at_quantile(percentile / 100.0);
        (us as f64 / 1000.0 * 1000.0).round() / 1000.0
    }
}

/// Runs `flows` (one per connection) against `addr` within `limits`.
pub async fn run(
    addr: SocketAddr,
    flows: Vec<Box<dyn Flow>>,
    limits: Limits,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + limits.duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(flows.len());
    for flow in flows {
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            connection_loop(addr, flow, deadline, limits, &issued).await
        }));
    }
    let mut latencies_us = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut requests, mut errors) = (0, 0);
    for task in tasks {
        let (histogram, ok, failed) = task.await?;
        latencies_us.add(&histogram)?;
        requests += ok + failed;
        errors += failed;
    }
    Ok(Report {
        requests,
        errors,
        elapsed: started.elapsed(),
        latencies_us,
    })
}

/// One connection's share: returns its latencies, successes and failures.
async fn connection_loop(
    addr: SocketAddr,
    mut flow: Box<dyn Flow>,
    deadline: Instant,
    limits: Limits,
    issued: &AtomicU64,
) -> (Histogram<u64>, u64, u64) {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut ok, mut failed) = (0, 0);
    let mut open = None;
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < limits.max_requests
    {
        if open.is_none() {
            open = connect_from(addr, flow.local_ip()).await;
            if open.is_none() {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        let Some(connection) = open.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let exchange = async {
            match connection.sender.send_request(flow.request()).await {
                Ok(response) => {
                    let status = response.status();
                    match response.into_body().collect().await {
                        Ok(body) => Some((status, body.to_bytes())),
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            }
        };
        let answer = if limits.cut_off {
            match tokio::time::timeout_at(deadline.into(), exchange).await {
                Ok(answer) => answer,
                // Dropping the connection closes its socket mid-request.
                Err(_) => break,
            }
        } else {
            exchange.await
        };
        let outcome = answer.is_some_and(|(status, body)| flow.response(status, &body));
        let _ = histogram.record(sent.elapsed().as_micros().max(1) as u64);
        if outcome {
            ok += 1;
        } else {
            failed += 1;
            open = None;
        }
    }
    (histogram, ok, failed)
}

/// One client connection; dropping it closes the socket, whatever is in flight.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

async fn connect(addr: SocketAddr) -> Option<Connection> {
    connect_from(addr, None).await
}

async fn connect_from(addr: SocketAddr, local: Option<std::net::IpAddr>) -> Option<Connection> {
    let stream = match local {
        None => TcpStream::connect(addr).await.ok()?,
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().ok()?;
            socket.bind(SocketAddr::new(ip, 0)).ok()?;
            socket.connect(addr).await.ok()?
        }
    };
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(Connection { sender, driver })
}

/// One request outside the measured load (set-up, probes): its status and body.
pub async fn once(addr: SocketAddr, request: Request<Full<Bytes>>) -> Option<(StatusCode, Bytes)> {
    Client::open(addr).await?.send(request).await
}

/// A kept-alive connection sending one request at a time, as a browser's or an app's
/// HTTP client does between the steps of a sign-in.
pub struct Client(Connection);

impl Client {
    pub async fn open(addr: SocketAddr) -> Option<Self> {
        connect(addr).await.map(Self)
    }

    /// Sends `request` and reads the whole answer: its status and body.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Option<(StatusCode, Bytes)> {
        // The connection takes the next request only once it has finished with the last
        // answer: sending before that fails at once.
        self.0.sender.ready().await.ok()?;
        let response = self.0.sender.send_request(request).await.ok()?;
        let status = response.status();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }
}

/// Status of one `GET path`, or `None` when the server does not answer.
pub async fn probe(addr: SocketAddr, path: &str) -> Option<u16> {
    let request = Request::get(path)
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .ok()?;
    once(addr, request).await.map(|(status, _)| status.as_u16())
}

/// A JSON POST request.
pub fn post_json(path: &str, body: &serde_json::Value) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid request")
}
