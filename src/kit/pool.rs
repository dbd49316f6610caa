//! A fixed set of threads, one per core, for short CPU-bound jobs that
//! many stages submit (decoding a batch of lines is the first).
//!
//! Why not tokio's blocking pool: it starts a new thread whenever none is
//! idle, so under a steady stream of jobs the process's thread count and
//! memory (stacks, allocator heaps) drift upwards with timing; here they
//! are set once, by the machine. Why not one pool per source: a daemon
//! following a hundred files would own hundreds of threads. Jobs are run
//! in the order submitted; whoever submits bounds how many it has
//! outstanding (the decoder's queue does).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The pool's queue; threads start on first use.
fn queue() -> &'static async_channel::Sender<Job> {
    static QUEUE: OnceLock<async_channel::Sender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = async_channel::unbounded::<Job>();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8));
        for i in 0..threads {
            let rx = rx.clone();
            // A thread that cannot start leaves the others to do the work;
            // with none at all, `submit` runs jobs on the caller's thread.
            let _ = crate::kit::thread::builder(&format!("sluice-pool-{i}")).spawn(move || {
                while let Ok(job) = rx.recv_blocking() {
                    job();
                }
            });
        }
        tx
    })
}

/// What a job returned, or the panic it raised (for the caller to re-raise
/// where panics are reported).
pub type Outcome<T> = Result<T, Box<dyn Any + Send>>;

/// Runs `job` on the pool; the receiver gets its outcome.
pub fn submit<T, F>(job: F) -> oneshot::Receiver<Outcome<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, outcome) = oneshot::channel();
    let run = move || {
        let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(job)));
    };
    // The queue is unbounded: this fails only if no pool thread could
    // start (the queue then has no receiver).
    if let Err(e) = queue().try_send(Box::new(run)) {
        (e.into_inner())();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_panics_come_back_as_outcomes() {
        let sum = submit(|| (1..=10u64).sum::<u64>()).await.unwrap();
        assert_eq!(sum.unwrap(), 55);
        let panicked = submit(|| -> u8 { panic!("boom") }).await.unwrap();
        let message = panicked.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"boom"));
        // The thread survived its job's panic.
        assert_eq!(submit(|| 7).await.unwrap().unwrap(), 7);
    }
}
