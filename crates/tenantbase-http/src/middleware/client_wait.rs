//! A request body that tells whether the handler is waiting on the client's bytes, so a
//! timeout can blame the slow party: the client (408) or the server (503).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// `body`, recording in `waiting` whether its last read found no bytes yet.
pub(super) struct Watched {
    body: Body,
    waiting: Arc<AtomicBool>,
}

impl Watched {
    pub(super) fn new(body: Body) -> (Self, Arc<AtomicBool>) {
        let waiting = Arc::new(AtomicBool::new(false));
        let body = Self {
            body,
            waiting: Arc::clone(&waiting),
        };
        (body, waiting)
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        this.waiting.store(frame.is_pending(), Ordering::Relaxed);
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
