//! The HTTP/1.1 server behind both listeners: axum's router on hyper connections as
//! `axum::serve` runs it, plus what it cannot be told — a deadline for each request's
//! headers. Without one, a client that sends half a request line, or opens a connection
//! and sends nothing, holds a file descriptor and a task for as long as it likes.

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
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown`, closing connections whose next
/// request's headers take longer than `header_read_timeout` (counted from the connection's
/// start or its last answer, so idle keep-alive connections end too). At `shutdown` it
/// stops accepting, lets each connection finish the request it is on, and returns once
/// every one has closed.
pub(crate) async fn serve(
    mut listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
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
                .header_read_timeout(header_read_timeout);
            // No upgrades (`with_upgrades`): no route switches protocols.
            let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A connection's own failures (a client gone, a header deadline passed) end
            // only that connection, and hyper has answered what can be answered.
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
