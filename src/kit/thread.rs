//! Threads the graph owns: a long-lived blocking loop (a worker of a
//! computing stage, a sink, a file reader, the stdin pump) runs on a named
//! OS thread of its own, whose end is awaited without holding the runtime.
//!
//! Why not tokio's blocking pool: its threads are capped (512 by default)
//! and a `spawn_blocking` call past the cap queues until one is free. Loops
//! that last as long as the graph never free theirs, so a config with many
//! workers would silently starve every later short blocking call (the
//! checkpoint flush) and every later loop. With the loops here, the pool
//! only ever serves short calls and no config can exhaust it.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use anyhow::Context as _;

thread_local! {
    /// On a graph thread: set once nobody awaits the thread any more.
    static ABANDONED: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs `body` on a new OS thread named `name` and waits for its result
/// without blocking the runtime (see [`spawn`]).
pub async fn run<T, F>(name: String, body: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    spawn(name, body)?.join().await
}

/// Starts `body` on a new OS thread named `name` (shown by `top -H`, in
/// panic messages and in errors) now; [`Joined::join`] awaits its result.
/// A thread that cannot be created (the system's thread limit) is an
/// error, not an abort.
pub fn spawn<T, F>(name: String, body: F) -> anyhow::Result<Joined<T>>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    // The thread runs inside the caller's runtime context, as a
    // blocking-pool thread does: the loops create timers and tasks
    // (`tokio::time::sleep(..)` before `block_on`), which panic without one.
    let runtime = tokio::runtime::Handle::try_current().ok();
    quiet_when_abandoned();
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    builder(&name)
        .spawn(move || {
            ABANDONED.with(|a| *a.borrow_mut() = Some(flag));
            let _context = runtime.as_ref().map(|r| r.enter());
            // The default hook has already printed the panic with the
            // thread's name; the message also goes back to the graph.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(body));
            let _ = done.send(outcome);
        })
        .with_context(|| format!("cannot start thread `{name}`"))?;
    Ok(Joined {
        name,
        result,
        _awaited: Awaited(abandoned),
    })
}

/// Installs, once, a panic hook that stays silent for a graph thread
/// nobody awaits any more: after a forced stop the graph abandons its
/// threads and the runtime shuts down under them, and a thread still in
/// `block_on` (a sink sleeping between retries) then panics with tokio's
/// "being shutdown". That is the end of a stop already reported with its
/// count of undelivered events, not a new failure. Every other panic goes
/// to the previous hook as before.
fn quiet_when_abandoned() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let abandoned = ABANDONED
                .try_with(|a| {
                    a.borrow()
                        .as_ref()
                        .is_some_and(|f| f.load(Ordering::SeqCst))
                })
                .unwrap_or(false);
            if !abandoned {
                previous(info);
            }
        }));
    });
}

/// Marks the thread abandoned when the [`Joined`] holding it is dropped
/// (awaited to the end, or its task aborted by a forced stop).
struct Awaited(Arc<AtomicBool>);

impl Drop for Awaited {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Stack of a graph thread: the main thread's 8 MiB rather than Rust's
/// 2 MiB default, because jq evaluation recurses as deep as the program
/// nests (`config::jq_depth` bounds programs for this size). Only the
/// pages a thread touches are resident.
pub const STACK_BYTES: usize = 8 << 20;

/// A thread builder named `name`, with control characters replaced: std
/// panics on a name holding a NUL byte, and a stage name comes from the
/// config (check refuses such names; this keeps any caller safe).
pub fn builder(name: &str) -> std::thread::Builder {
    let clean = name.replace(|c: char| c.is_control(), "?");
    std::thread::Builder::new()
        .name(clean)
        .stack_size(STACK_BYTES)
}

/// A running graph thread, to be awaited.
pub struct Joined<T> {
    name: String,
    result: tokio::sync::oneshot::Receiver<std::thread::Result<anyhow::Result<T>>>,
    _awaited: Awaited,
}

impl<T> Joined<T> {
    /// The thread's result once it ends. A panic comes back as an error
    /// naming the thread, not as a lost task.
    pub async fn join(self) -> anyhow::Result<T> {
        let name = self.name;
        match self.result.await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => {
                anyhow::bail!("thread `{name}` panicked: {}", panic_message(&*panic))
            }
            // Only if the thread died without unwinding through
            // catch_unwind, which Rust does not do; an error, not a hang.
            Err(_) => anyhow::bail!("thread `{name}` ended without a result"),
        }
    }
}

/// The text of a panic payload (`panic!` with a literal or a format).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_result_and_names_the_thread() {
        let name = run("probe#3".into(), || {
            Ok(std::thread::current().name().map(str::to_owned))
        })
        .await
        .unwrap();
        assert_eq!(name.as_deref(), Some("probe#3"));
    }

    /// A loop may create a timer before handing it to `block_on`, as on a
    /// blocking-pool thread.
    #[tokio::test]
    async fn the_thread_runs_in_the_runtime_context() {
        let handle = tokio::runtime::Handle::current();
        run("timer#0".into(), move || {
            let sleep = tokio::time::sleep(std::time::Duration::from_millis(1));
            handle.block_on(sleep);
            Ok(())
        })
        .await
        .unwrap();
    }

    /// A thread whose awaiting task is gone panics silently; one still
    /// awaited reports its panic (the test above).
    #[tokio::test]
    async fn an_abandoned_thread_is_marked_so() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (seen, saw) = std::sync::mpsc::channel();
        let joined = spawn("left#0".into(), move || {
            let _ = wait.recv();
            let flag = ABANDONED.with(|a| a.borrow().as_ref().map(|f| f.load(Ordering::SeqCst)));
            let _ = seen.send(flag);
            Ok(())
        })
        .unwrap();
        drop(joined);
        go.send(()).unwrap();
        let flag = saw
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        assert_eq!(flag, Some(true));
    }

    #[tokio::test]
    async fn a_name_with_a_nul_byte_is_cleaned_not_a_panic() {
        let name = run("a\0b#0".into(), || {
            Ok(std::thread::current().name().map(str::to_owned))
        })
        .await
        .unwrap();
        assert_eq!(name.as_deref(), Some("a?b#0"));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_naming_the_thread() {
        let err = run::<(), _>("boom#0".into(), || panic!("bad {}", 42))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("`boom#0` panicked: bad 42"), "{err}");
    }

    /// More long-lived loops than tokio's blocking pool has threads, all
    /// alive at once, while a `spawn_blocking` call still gets a thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_threads_leave_the_blocking_pool_free() {
        let n = 600;
        let gate = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
        let mut all = Vec::new();
        for i in 0..n {
            let gate = gate.clone();
            all.push(tokio::spawn(run(format!("t#{i}"), move || {
                gate.wait();
                Ok(i)
            })));
        }
        let pool = tokio::task::spawn_blocking(|| 7);
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), pool).await;
        assert_eq!(got.expect("spawn_blocking was starved").unwrap(), 7);
        // Every thread waits at the barrier until all n exist at once.
        let gate2 = gate.clone();
        let all_alive = tokio::task::spawn_blocking(move || gate2.wait());
        tokio::time::timeout(std::time::Duration::from_secs(20), all_alive)
            .await
            .expect("the threads were not all alive at once")
            .unwrap();
        for (i, t) in all.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), i);
        }
    }
}
