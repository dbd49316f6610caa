//! The `http` sink's loop: fill a batch from the input, close it by count,
//! bytes or age, and keep up to `concurrency` requests in flight.
//!
//! The requests are futures polled by this loop on the sink's own thread
//! (a [`FuturesUnordered`], not spawned tasks), so every event the sink
//! holds, in a batch being filled or in a request in flight, lives inside
//! the sink's task: if that task panics or is abandoned, what it held
//! fails its source batches ([`Held`](crate::sinks::held::Held)).
//!
//! A request's events are acknowledged when the peer answers 2xx, and only
//! then. Requests finish in any order; that is safe because an
//! acknowledgement belongs to a source batch, not to a position: a source
//! batch split over several requests is acknowledged when its last event
//! is, and sources commit only contiguous runs of acknowledged batches
//! (`kit::ack::Committer`). A batch refused (a 4xx other than 408/429) or
//! out of retries goes to `SINK.errors`, each event an error event whose
//! reason carries the status and the start of the answer's body.
//!
//! Memory is bounded by the settings: at most `concurrency` batches in
//! flight, one closed batch waiting for a free slot, one being filled and
//! the rest of one input batch; while every slot is busy and a batch
//! waits, the sink reads nothing and backpressure reaches the sources.
//!
//! When the input closes (the sources ended, or SIGTERM stopped them and
//! the graph drained), the partial batch is sent at once and the loop
//! waits for every request in flight before it returns; `shutdown_grace`
//! bounds that wait from above.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt as _};
use reqwest::header::HeaderMap;

use crate::kit::event::Event;
use crate::kit::http_client::{self, Answer, Failure};
use crate::kit::retry::{Retries, RetryPolicy};
use crate::sinks::SinkContext;
use crate::sinks::http::batch::{Batcher, Sealed};

/// What every request of the sink shares.
pub struct Target {
    /// The client (its pool keeps connections across requests).
    pub client: reqwest::Client,
    /// `POST` or `PUT`.
    pub method: reqwest::Method,
    /// Where to send; parsed at build.
    pub url: reqwest::Url,
    /// Content type and encoding, then the configured headers.
    pub headers: HeaderMap,
    /// Per-request timeout (for the reason's wording; the client enforces it).
    pub timeout: Duration,
    /// How a request is retried.
    pub retry: RetryPolicy,
    /// Requests in flight at most.
    pub concurrency: usize,
}

/// A request that has finished, one way or the other.
struct Flight {
    sealed: Sealed,
    result: Result<Answer, Failure>,
    /// From the first try to the verdict (retries and waits included).
    took: Duration,
    /// Bytes of the body as sent (compressed).
    sent: u64,
}

/// Sends one closed batch, with retries.
async fn deliver(target: Arc<Target>, sealed: Sealed) -> Flight {
    let started = Instant::now();
    let mut retries = Retries::new(target.retry);
    let t = &target;
    let body = sealed.wire_body().await;
    let result = http_client::call(
        || {
            t.client
                .request(t.method.clone(), t.url.clone())
                .headers(t.headers.clone())
                .body(body.clone())
        },
        &mut retries,
        t.timeout,
    )
    .await;
    Flight {
        sent: body.len() as u64,
        sealed,
        result,
        took: started.elapsed(),
    }
}

/// Drains `ctx.input` to the peer until the input closes and every request
/// has been answered.
pub async fn run(target: Target, mut batcher: Batcher, mut ctx: SinkContext) -> anyhow::Result<()> {
    let target = Arc::new(target);
    let mut flights = FuturesUnordered::new();
    // Received, not yet in a batch (the rest of an input batch).
    let mut leftover: VecDeque<Event> = VecDeque::new();
    // Closed and waiting for a free slot.
    let mut sealed: Option<Sealed> = None;
    let mut closed = false;
    let mut failures = 0u64;
    loop {
        if sealed.is_some() && flights.len() < target.concurrency {
            let next = sealed.take().expect("checked just above");
            flights.push(deliver(target.clone(), next));
        }
        while sealed.is_none() {
            let Some(e) = leftover.pop_front() else { break };
            sealed = batcher.push(e);
        }
        if sealed.is_none() && !batcher.is_empty() && (closed || Instant::now() >= batcher.due()) {
            sealed = Some(batcher.seal());
        }
        if sealed.is_some() && flights.len() < target.concurrency {
            continue;
        }
        if closed
            && sealed.is_none()
            && leftover.is_empty()
            && batcher.is_empty()
            && flights.is_empty()
        {
            break;
        }
        let due = tokio::time::Instant::from_std(batcher.due());
        // Every branch is cancel-safe: a finished request stays in
        // `flights`, a batch stays in the edge, a timer is remade. One
        // branch is always enabled: with no request in flight, a closed
        // batch was sent above, and with the input closed and the batch
        // empty the loop has ended.
        tokio::select! {
            Some(flight) = flights.next(), if !flights.is_empty() => {
                settle(flight, &mut ctx, &mut failures).await;
            }
            next = ctx.input.recv(), if !closed && sealed.is_none() && leftover.is_empty() => {
                match next {
                    Some(batch) => {
                        ctx.stats.events_in.fetch_add(batch.len() as u64, Relaxed);
                        leftover.extend(batch.events);
                    }
                    None => closed = true,
                }
            }
            _ = tokio::time::sleep_until(due), if sealed.is_none() && !batcher.is_empty() => {}
        }
    }
    Ok(())
}

/// Acknowledges an answered batch, or gives a refused one to `errors`.
async fn settle(flight: Flight, ctx: &mut SinkContext, failures: &mut u64) {
    let Flight {
        mut sealed,
        result,
        took,
        sent,
    } = flight;
    let n = sealed.events.len() as u64;
    ctx.stats.latency.record(took);
    match result {
        Ok(answer) => {
            ctx.stats
                .retries
                .fetch_add(u64::from(answer.retries), Relaxed);
            ctx.stats.bytes.fetch_add(sent, Relaxed);
            ctx.stats.events_out.fetch_add(n, Relaxed);
            // Answered 2xx: dropping the events acknowledges them.
            sealed.events.delivered();
        }
        Err(failure) => {
            // Every try failed, the last one included.
            ctx.stats
                .retries
                .fetch_add(u64::from(failure.retries) + 1, Relaxed);
            *failures += 1;
            let reason = failure.reason;
            if *failures == 1 || failures.is_multiple_of(100) {
                tracing::error!(
                    "sink `{}`: {reason}; {n} events go to `{}.errors` ({} failed requests so far)",
                    ctx.name,
                    ctx.name,
                    failures
                );
            } else {
                tracing::debug!("sink `{}`: {reason}; {n} events go to errors", ctx.name);
            }
            ctx.give_up(sealed.events.take(), &reason).await;
        }
    }
    ctx.in_flight.sub(n);
}
