//! The HTTP/1.1 server behind both listeners: axum's router on hyper connections as
//! `axum::serve` runs it, plus what it cannot be told — a deadline for each request's
//! headers, and one for each write of an answer. Without them, a client that sends half a
//! request line, or opens a connection and sends nothing, or asks for a download and
//! never reads it, holds a file descriptor and a task for as long as it likes.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a connection may stall before it is closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// For the next request's headers, counted from the connection's start or its last
    /// answer, so idle keep-alive connections end too.
    pub(crate) header_read: Duration,
    /// For each write of an answer that the socket cannot take (the client not reading):
    /// any progress starts it again, so a slow reader is served, a stopped one is not.
    pub(crate) write: Duration,
}

/// Serves `router` on `listener` until `shutdown`, closing connections that stall past
/// `deadlines`. At `shutdown` it stops accepting, lets each connection finish the request
/// it is on, and returns once every one has closed.
pub(crate) async fn serve(
    mut listener: TcpListener,
    router: Router,
    deadlines: Deadlines,
    shutdown: CancellationToken,
) {
    // Each connection holds a receiver: the sender is closed once the last one ends.
    let (connections, open) = watch::channel(());
    loop {
        // axum's `accept` retries on errors, pausing a second when out of descriptors.
        let (stream, remote) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            () = shutdown.cancelled() => break,
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    router.clone().oneshot(request)
                });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(deadlines.header_read);
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(deadlines.write));
            let io = TokioIo::new(Box::pin(stream));
            // No upgrades (`with_upgrades`): no route switches protocols.
            let mut connection = pin!(builder.serve_connection(io, service));
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A connection's own failures (a client gone, a deadline passed) end only that
            // connection, and hyper has answered what can be answered.
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended");
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open);
    connections.closed().await;
}
