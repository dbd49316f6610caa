//! What a stage task that fails does to the events it holds and to the run.
//!
//! - [`guard`] wraps every transform and sink task: a task that panics, or
//!   is dropped before it finished, drops its state inside
//!   [`ack::failing`], so the events it held fail their batches instead of
//!   being acknowledged (tokio drops a panicked task's future after the
//!   panic was caught, when `std::thread::panicking()` no longer says so).
//! - [`guard_consumer`] also owns a handle on a transform's input edge: once
//!   the task is over, for whatever reason, the edge is closed and what is
//!   still queued in it fails. Otherwise a stage that stopped because its
//!   consumers were gone would leave those batches in the edge for as long
//!   as its producers live, holding their acknowledgements (the source
//!   waits for them before it ends) and their ordering permits (the source
//!   waits for those before it sends): a hang, then an acknowledgement of
//!   events nobody wrote when the edge is finally freed.
//!
//! A failed transform or sink also ends the run (`running.rs` stops the
//! sources): the graph lost a stage for good (an output that is gone, a
//! bug), and reading on would only feed a graph that cannot deliver.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_channel::Receiver;

use crate::kit::ack;
use crate::kit::counters::InFlight;
use crate::kit::event::Batch;

/// A task whose state, if abandoned, is dropped as a loss.
pub struct Guarded<F> {
    inner: Option<Pin<Box<F>>>,
    /// The input edge the task consumes, refused once the task is over.
    input: Option<(Receiver<Batch>, Arc<InFlight>)>,
}

/// Wraps `task` (see the module doc).
pub fn guard<F: Future>(task: F) -> Guarded<F> {
    Guarded {
        inner: Some(Box::pin(task)),
        input: None,
    }
}

/// Wraps `task`, which consumes `input` (see the module doc).
pub fn guard_consumer<F: Future>(
    task: F,
    input: Receiver<Batch>,
    in_flight: Arc<InFlight>,
) -> Guarded<F> {
    Guarded {
        inner: Some(Box::pin(task)),
        input: Some((input, in_flight)),
    }
}

/// Closes `input` and fails what is queued in it; returns how many events.
/// After a normal end (every producer gone, the edge drained) it finds
/// nothing.
pub fn refuse_rest(input: &Receiver<Batch>, in_flight: &InFlight) -> u64 {
    input.close();
    let mut lost = 0u64;
    while let Ok(batch) = input.try_recv() {
        crate::kit::event::fail_events(&batch.events);
        lost += batch.len() as u64;
    }
    in_flight.sub(lost);
    lost
}

// Nothing in a `Guarded` is pinned in place: the task is boxed.
impl<F> Unpin for Guarded<F> {}

impl<F> Guarded<F> {
    /// The task is over: nobody will take what is still queued for it.
    fn close_input(&mut self) {
        if let Some((input, in_flight)) = self.input.take() {
            refuse_rest(&input, &in_flight);
        }
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(inner) = self.inner.as_mut() else {
            panic!("a guarded task was polled after it completed");
        };
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => {
                // Finished: what it still holds was handled on purpose.
                self.inner = None;
                self.close_input();
                Poll::Ready(out)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => {
                let state = self.inner.take();
                ack::failing(|| drop(state));
                self.close_input();
                resume_unwind(panic)
            }
        }
    }
}

impl<F> Drop for Guarded<F> {
    fn drop(&mut self) {
        // Still there: the task was cancelled before it completed.
        if let Some(state) = self.inner.take() {
            ack::failing(|| drop(state));
        }
        self.close_input();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::ack::{Ack, AckData};
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn a_panicked_task_fails_what_it_held() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ack = Ack::new(0, AckData::Ids(vec![]), &tx);
        let task = tokio::spawn(guard(async move {
            let _held = ack;
            tokio::task::yield_now().await;
            panic!("a stage bug");
        }));
        assert!(task.await.unwrap_err().is_panic());
        assert!(rx.recv().await.unwrap().failed);
    }

    #[tokio::test]
    async fn a_cancelled_task_fails_what_it_held_and_a_finished_one_does_not() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ack = Ack::new(0, AckData::Ids(vec![]), &tx);
        let task = tokio::spawn(guard(async move {
            let _held = ack;
            std::future::pending::<()>().await;
        }));
        tokio::task::yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(rx.recv().await.unwrap().failed);
        let ack = Ack::new(1, AckData::Ids(vec![]), &tx);
        guard(async move { drop(ack) }).await;
        assert!(!rx.recv().await.unwrap().failed);
    }

    #[tokio::test]
    async fn a_consumer_that_ends_refuses_what_is_queued_for_it() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (send, input) = async_channel::bounded::<Batch>(4);
        let mut e = crate::kit::event::Event::new(jaq_json::Val::from(1isize));
        e.ack = Some(Ack::new(0, AckData::Ids(vec![]), &tx));
        send.send(Batch::new(1, 0, vec![e])).await.unwrap();
        let in_flight = Arc::new(InFlight::default());
        in_flight.add(1);
        // The task stops without reading (its consumers are gone).
        guard_consumer(async {}, input, in_flight.clone()).await;
        assert!(rx.recv().await.unwrap().failed);
        assert_eq!(in_flight.current(), 0);
        assert!(send.is_closed(), "producers are refused from now on");
    }
}
