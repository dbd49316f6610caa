//! End-to-end acknowledgements: a source learns when every event it read
//! in a batch has left the graph for good — written and flushed by every
//! sink it reached, dropped on purpose by a filter or sample, or written to
//! an error output — or that some of it was lost.
//!
//! Every event of a source batch holds a clone of the batch's [`Ack`] (one
//! shared pointer: a fan-out copy or a jq output is a reference-count bump).
//! Stages that drop an event drop its handle; sinks drop theirs only after
//! the write. When the last handle goes, the batch's [`AckToken`] is sent
//! back to the source, which may then commit (a file offset, a Redis XACK).
//!
//! Dropping is not delivering when it is a loss: a sink that could not
//! write an event calls [`Ack::fail`], and a handle dropped while its
//! thread unwinds from a panic, or inside [`failing`] (a task abandoned
//! with events in hand), fails its batch by itself. A failed batch's token
//! comes back with `failed` set, and the [`Committer`] never commits it or
//! anything after it in this run: the source reads it again next time.
//!
//! Nothing is acknowledged on a forced stop: [`suspend`] is called before
//! tasks are aborted, so the handles they drop do not count as delivered.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Set when the process is abandoning its tasks: drops are not deliveries.
static SUSPENDED: AtomicBool = AtomicBool::new(false);

/// Stops every acknowledgement from now on (a forced stop or a crash path).
pub fn suspend() {
    SUSPENDED.store(true, Ordering::SeqCst);
}

thread_local! {
    /// Set while [`failing`] runs on this thread.
    static FAILING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (typically: dropping a task's state) so that every handle it
/// drops fails its batch instead of acknowledging it: a task abandoned
/// while it held events did not deliver them.
pub fn failing<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            FAILING.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FAILING.with(|c| c.replace(true)));
    f()
}

/// What a source needs to commit a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckData {
    /// The batch ends at this byte offset of input `file` (index in the
    /// source's file list).
    Offset {
        /// Which of the source's inputs.
        file: usize,
        /// Offset just past the batch's last line.
        end: u64,
        /// Lines up to `end`.
        line: u64,
    },
    /// Message ids to acknowledge upstream (Redis stream entries).
    Ids(Vec<String>),
}

/// The acknowledged batch, as the source sees it.
#[derive(Debug)]
pub struct AckToken {
    /// Position of the batch in the source's reading order.
    pub seq: u64,
    /// What to commit.
    pub data: AckData,
    /// Lengths that sinks reached after writing this batch, by sink name
    /// (for sinks that record them: effectively-once file outputs).
    pub marks: Vec<(Arc<str>, u64)>,
    /// Some event of the batch was lost (not written by a sink that took
    /// it): the batch must not be committed, nor anything after it.
    pub failed: bool,
}

/// The handle every event of a source batch carries.
#[derive(Clone, Debug)]
pub struct Ack(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    token: Mutex<Option<AckToken>>,
    /// Sticky: once any holder lost an event, the whole batch is failed.
    failed: AtomicBool,
    tx: mpsc::UnboundedSender<AckToken>,
}

impl Drop for Ack {
    fn drop(&mut self) {
        // A handle dropped by a panicking thread or an abandoned task was
        // not delivered, whatever its sibling handles do later.
        if std::thread::panicking() || FAILING.with(Cell::get) {
            self.fail();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if SUSPENDED.load(Ordering::SeqCst) {
            return;
        }
        let token = self
            .token
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut token) = token {
            token.failed = self.failed.load(Ordering::SeqCst);
            // The source may be gone already (shutting down): nothing to commit then.
            let _ = self.tx.send(token);
        }
    }
}

impl Ack {
    /// A handle for batch `seq` that reports to `tx` once every clone is gone.
    pub fn new(seq: u64, data: AckData, tx: &mpsc::UnboundedSender<AckToken>) -> Ack {
        Ack(Arc::new(Inner {
            token: Mutex::new(Some(AckToken {
                seq,
                data,
                marks: Vec::new(),
                failed: false,
            })),
            failed: AtomicBool::new(false),
            tx: tx.clone(),
        }))
    }

    /// Records that sink `sink` reached `length` bytes with this batch.
    pub fn mark(&self, sink: &Arc<str>, length: u64) {
        let mut token = self.0.token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = token.as_mut() {
            match t.marks.iter_mut().find(|(s, _)| s == sink) {
                Some(m) => m.1 = m.1.max(length),
                None => t.marks.push((sink.clone(), length)),
            }
        }
    }

    /// Marks the batch failed: an event of it was lost. Its token still
    /// goes back to the source when the last handle goes, flagged, so that
    /// the source knows never to commit it (nor anything after it).
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::SeqCst);
    }

    /// True once the batch is failed.
    pub fn is_failed(&self) -> bool {
        self.0.failed.load(Ordering::SeqCst)
    }

    /// True when both handles belong to the same batch.
    pub fn same_batch(&self, other: &Ack) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Tracks which batches of a source are acknowledged and yields the ones
/// that can be committed: a batch commits only when every batch before it
/// has (commits are contiguous, whatever order acks arrive in).
///
/// Once a batch has failed, nothing at or after it can ever commit in this
/// run: later tokens are dropped on arrival instead of being kept, so the
/// memory held stays bounded by the batches before the failed one.
#[derive(Default)]
pub struct Committer {
    next: u64,
    done: std::collections::BTreeMap<u64, AckToken>,
    failed: Option<u64>,
}

impl Committer {
    /// The first failed batch, if any: the commit position is stuck before it.
    pub fn failed_at(&self) -> Option<u64> {
        self.failed
    }

    /// Batches held, waiting for an earlier one (for tests of the bound).
    pub fn waiting(&self) -> usize {
        self.done.len()
    }

    /// Takes an acknowledgement; returns the batches now committable, in order.
    pub fn ack(&mut self, token: AckToken) -> Vec<AckToken> {
        if self.failed.is_some_and(|f| token.seq >= f) {
            return Vec::new();
        }
        if token.failed {
            self.failed = Some(token.seq);
            // Whatever came after it can no longer commit.
            drop(self.done.split_off(&token.seq));
            return Vec::new();
        }
        self.done.insert(token.seq, token);
        let mut out = Vec::new();
        while let Some(t) = self.done.remove(&self.next) {
            self.next += 1;
            out.push(t);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_handle_acknowledges_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let a = Ack::new(
            3,
            AckData::Offset {
                file: 0,
                end: 10,
                line: 1,
            },
            &tx,
        );
        let b = a.clone();
        drop(a);
        assert!(rx.try_recv().is_err());
        b.mark(&Arc::from("out"), 42);
        drop(b);
        let t = rx.try_recv().unwrap();
        assert_eq!(t.seq, 3);
        assert_eq!(t.marks, vec![(Arc::from("out"), 42)]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn commits_are_contiguous() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut c = Committer::default();
        for seq in [1, 2, 0, 3] {
            drop(Ack::new(seq, AckData::Ids(vec![]), &tx));
        }
        let mut committed = Vec::new();
        while let Ok(t) = rx.try_recv() {
            committed.extend(c.ack(t).into_iter().map(|t| t.seq));
            if committed.is_empty() {
                continue;
            }
        }
        assert_eq!(committed, vec![0, 1, 2, 3]);
    }

    fn ids(seq: u64, tx: &mpsc::UnboundedSender<AckToken>) -> Ack {
        Ack::new(seq, AckData::Ids(vec![seq.to_string()]), tx)
    }

    #[test]
    fn a_failed_handle_fails_the_batch_even_if_a_sibling_is_delivered() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let a = ids(0, &tx);
        let b = a.clone();
        a.fail();
        drop(a);
        assert!(b.is_failed());
        drop(b);
        let t = rx.try_recv().unwrap();
        assert!(t.failed);
        let ok = ids(1, &tx);
        drop(ok);
        assert!(!rx.try_recv().unwrap().failed);
    }

    #[test]
    fn a_handle_dropped_while_panicking_fails_its_batch() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let a = ids(0, &tx);
        let kept = a.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = a;
            panic!("a stage bug");
        }));
        assert!(r.is_err());
        assert!(kept.is_failed());
        drop(kept);
        assert!(rx.try_recv().unwrap().failed);
    }

    #[test]
    fn handles_dropped_inside_failing_fail_and_the_scope_ends() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let a = ids(0, &tx);
        failing(|| drop(a));
        assert!(rx.try_recv().unwrap().failed);
        drop(ids(1, &tx));
        assert!(!rx.try_recv().unwrap().failed, "the scope is over");
    }

    fn token(seq: u64, failed: bool) -> AckToken {
        AckToken {
            seq,
            data: AckData::Ids(vec![]),
            marks: Vec::new(),
            failed,
        }
    }

    #[test]
    fn nothing_commits_at_or_past_a_failed_batch() {
        let mut c = Committer::default();
        assert_eq!(c.ack(token(0, false)).len(), 1);
        assert!(c.ack(token(3, false)).is_empty());
        assert_eq!(c.waiting(), 1);
        // Batch 2 failed: 3 (held) and everything later can never commit.
        assert!(c.ack(token(2, true)).is_empty());
        assert_eq!(c.failed_at(), Some(2));
        assert_eq!(c.waiting(), 0, "tokens past the failure are dropped");
        for seq in 4..10_000 {
            assert!(c.ack(token(seq, false)).is_empty());
        }
        assert_eq!(c.waiting(), 0, "memory stays bounded");
        // Batch 1, before the failure, still commits.
        let done: Vec<u64> = c.ack(token(1, false)).iter().map(|t| t.seq).collect();
        assert_eq!(done, vec![1]);
        // An earlier failure moves the limit back.
        let mut c = Committer::default();
        assert!(c.ack(token(5, true)).is_empty());
        assert!(c.ack(token(4, false)).is_empty());
        assert!(c.ack(token(3, true)).is_empty());
        assert_eq!(c.failed_at(), Some(3));
        assert_eq!(c.waiting(), 0);
    }
}
