//! What a stage task that fails does to the events it holds and to the run.
//!
//! - [`guard`] wraps every transform and sink task: a task that panics, or
//!   is dropped before it finished, drops its state inside
//!   [`ack::failing`], so the events it held fail their batches instead of
//!   being acknowledged (tokio drops a panicked task's future after the
//!   panic was caught, when `std::thread::panicking()` no longer says so).
//! - [`stops_the_run`] decides that a failed transform or sink ends the run:
//!   the graph lost a stage for good (an output that is gone, a bug), so the
//!   sources stop reading rather than feed a graph that cannot deliver.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::ack;

/// A task whose state, if abandoned, is dropped as a loss.
pub struct Guarded<F> {
    inner: Option<Pin<Box<F>>>,
}

/// Wraps `task` (see the module doc).
pub fn guard<F: Future>(task: F) -> Guarded<F> {
    Guarded {
        inner: Some(Box::pin(task)),
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
                Poll::Ready(out)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => {
                let state = self.inner.take();
                ack::failing(|| drop(state));
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
    }
}

/// True when the failure of the task described as `what` (`sink `x``,
/// `transform `y``) must stop the sources.
pub fn stops_the_run(what: &str) -> bool {
    what.starts_with("sink ") || what.starts_with("transform ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Ack, AckData};
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
}
