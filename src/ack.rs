//! End-to-end acknowledgements: a source learns when every event it read
//! in a batch has left the graph for good — written and flushed by every
//! sink it reached, dropped on purpose by a filter or sample, or written to
//! an error output.
//!
//! Every event of a source batch holds a clone of the batch's [`Ack`] (one
//! shared pointer: a fan-out copy or a jq output is a reference-count bump).
//! Stages that drop an event drop its handle; sinks drop theirs only after
//! the write. When the last handle goes, the batch's [`AckToken`] is sent
//! back to the source, which may then commit (a file offset, a Redis XACK).
//!
//! Nothing is acknowledged on a forced stop: [`suspend`] is called before
//! tasks are aborted, so the handles they drop do not count as delivered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Set when the process is abandoning its tasks: drops are not deliveries.
static SUSPENDED: AtomicBool = AtomicBool::new(false);

/// Stops every acknowledgement from now on (a forced stop or a crash path).
pub fn suspend() {
    SUSPENDED.store(true, Ordering::SeqCst);
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
}

/// The handle every event of a source batch carries.
#[derive(Clone, Debug)]
pub struct Ack(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    token: Mutex<Option<AckToken>>,
    tx: mpsc::UnboundedSender<AckToken>,
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
        if let Some(token) = token {
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
            })),
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

    /// True when both handles belong to the same batch.
    pub fn same_batch(&self, other: &Ack) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Tracks which batches of a source are acknowledged and yields the ones
/// that can be committed: a batch commits only when every batch before it
/// has (commits are contiguous, whatever order acks arrive in).
#[derive(Default)]
pub struct Committer {
    next: u64,
    done: std::collections::BTreeMap<u64, AckToken>,
}

impl Committer {
    /// Takes an acknowledgement; returns the batches now committable, in order.
    pub fn ack(&mut self, token: AckToken) -> Vec<AckToken> {
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
}
