//! Requests that may change state run to completion in a task of their own. A client that
//! hangs up, the request timeout or a shutdown drops only the wait for the answer, never a
//! unit of work half way — nor what follows its commit (cache evictions, object deletes).
//!
//! Work nobody waits for any more must not pile up: a client that hangs up and retries at
//! once would otherwise queue writes faster than the store commits them. So a write first
//! takes one of `http.max_concurrent_writes` slots — a wait that is dropped harmlessly,
//! since nothing has started — and holds it until its task ends. Its body is read whole
//! before that: a client slow to send its body (or stalling half way) holds its own
//! connection, never a slot every other write waits for. The bodies being read share a
//! byte budget (`BODY_BYTES_READ`), so that many of them cannot run the memory out either.
//! Long-running routes (streamed uploads) skip the slots: they last as long as their
//! bytes and are bounded by their own caps.
//!
//! Every request, read or write, is counted in one task tracker, so a graceful shutdown
//! knows what it waits for and what it abandons at its deadline (ADR 0008).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::InFlight;

/// The most bytes of write bodies held at once, read or waiting for a write slot: a body
/// waits for room as its bytes arrive (and its client, on TCP's flow control).
pub(super) const BODY_BYTES_READ: usize = 64 * 1024 * 1024;

/// Runs `request` through `next`: tracked, and in a task of its own when it may change
/// state, after taking a write slot unless its route is `long_running`.
pub(super) async fn run(
    in_flight: &InFlight,
    long_running: bool,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    if request.method().is_safe() {
        return in_flight.tasks.track_future(next.run(request)).await;
    }
    let (request, held) = if long_running {
        (request, None)
    } else {
        let (request, room) = match read_whole(&in_flight.body_room, request).await {
            Ok(read) => read,
            Err(refused) => return refused.into_response(),
        };
        match in_flight.write_slots.clone().acquire_owned().await {
            Ok(slot) => (request, Some((slot, room))),
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    };
    // The task keeps the request's span: its log lines carry the request id, and its
    // units of work are children of the request's trace.
    let task = in_flight.tasks.spawn(
        async move {
            let response = next.run(request).await;
            drop(held);
            response
        }
        .in_current_span(),
    );
    match task.await {
        Ok(response) => response,
        // The request context's panic catcher turns it into a 500.
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// `request` with its body read whole, and the room it takes in the bodies' budget
/// (`None` for an empty body). A body past its limit is 413; one cut short, 400.
async fn read_whole(
    room: &Arc<Semaphore>,
    request: Request<Body>,
) -> Result<(Request<Body>, Option<OwnedSemaphorePermit>), StatusCode> {
    let (parts, mut body) = request.into_parts();
    // Most bodies come in one frame, which is kept as it came; more are copied together.
    let (mut first, mut more) = (None::<Bytes>, BytesMut::new());
    let (mut read, mut held) = (0, None::<OwnedSemaphorePermit>);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            if is_over_limit(&error) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // Trailers: no route reads them.
        };
        // One body alone past the whole budget would wait for room that never comes.
        read += data.len();
        if read > BODY_BYTES_READ {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        let size = u32::try_from(data.len()).map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
        let taken = Arc::clone(room)
            .acquire_many_owned(size)
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
        match held.as_mut() {
            Some(permit) => permit.merge(taken),
            None => held = Some(taken),
        }
        match first.as_ref() {
            None => first = Some(data),
            Some(earlier) => {
                if more.is_empty() {
                    more.extend_from_slice(earlier);
                }
                more.extend_from_slice(&data);
            }
        }
    }
    let whole = if more.is_empty() {
        first.map_or_else(Body::empty, Body::from)
    } else {
        Body::from(more.freeze())
    };
    Ok((Request::from_parts(parts, whole), held))
}

fn is_over_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}
