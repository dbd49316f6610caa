//! The inputs a `file` source has opened and not yet forgotten.
//!
//! Acknowledgements name an input by the index it got when opened; the
//! committer looks its path and identity up here. A followed file opens a
//! new input at every rotation or truncation, so an input is forgotten once
//! it is finished (read to its end and replaced) and, when checkpoints are
//! kept, every batch of it is committed: the list then holds the current
//! input of each path and the one it is finishing, however many rotations
//! there were.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::kit::checkpoint::FileId;

/// The source's inputs, shared by its readers and its committer.
pub type Inputs = Arc<Mutex<InputList>>;

/// Locks the list (a reader that panicked left it consistent: every
/// change is a single map operation).
pub fn lock(inputs: &Inputs) -> std::sync::MutexGuard<'_, InputList> {
    inputs.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open inputs by index.
#[derive(Default, Debug)]
pub struct InputList {
    /// The index the next opened input gets (never reused: a late
    /// acknowledgement of a forgotten input must not find another one).
    next: usize,
    open: HashMap<usize, Input>,
}

#[derive(Debug)]
struct Input {
    path: PathBuf,
    id: FileId,
    /// Set once reading it is over: how many acknowledged batches it sent.
    finished: Option<u64>,
    /// How many of its batches are committed.
    committed: u64,
}

impl InputList {
    /// Adds an input; returns its index.
    pub fn add(&mut self, path: PathBuf, id: FileId) -> usize {
        let i = self.next;
        self.next += 1;
        let input = Input {
            path,
            id,
            finished: None,
            committed: 0,
        };
        self.open.insert(i, input);
        i
    }

    /// The path and identity of input `i`, while it is known.
    pub fn get(&self, i: usize) -> Option<(PathBuf, FileId)> {
        self.open.get(&i).map(|e| (e.path.clone(), e.id.clone()))
    }

    /// Reading input `i` is over. `batches`: how many acknowledged batches
    /// it sent, or `None` when nothing is acknowledged (no checkpoint): it
    /// is forgotten at once.
    pub fn finish(&mut self, i: usize, batches: Option<u64>) {
        match batches {
            None => {
                self.open.remove(&i);
            }
            Some(n) => {
                if let Some(e) = self.open.get_mut(&i) {
                    e.finished = Some(n);
                }
                self.forget_done();
            }
        }
    }

    /// Counts `n` more committed batches of input `i`; returns the inputs
    /// forgotten as a result (their committers can go too).
    pub fn committed(&mut self, i: usize, n: u64) -> Vec<usize> {
        if let Some(e) = self.open.get_mut(&i) {
            e.committed += n;
        }
        self.forget_done()
    }

    fn forget_done(&mut self) -> Vec<usize> {
        let done: Vec<usize> = self
            .open
            .iter()
            .filter(|(_, e)| e.finished.is_some_and(|n| e.committed >= n))
            .map(|(&i, _)| i)
            .collect();
        for i in &done {
            self.open.remove(i);
        }
        done
    }

    /// Inputs still known (for tests of the bound).
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when no input is known.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> FileId {
        FileId::of(std::path::Path::new("Cargo.toml")).unwrap()
    }

    #[test]
    fn a_finished_input_is_forgotten_once_committed() {
        let mut list = InputList::default();
        for round in 0..1000u64 {
            let i = list.add("log".into(), id());
            list.committed(i, 2);
            list.finish(i, Some(3));
            assert_eq!(list.len(), 1, "round {round}: still one batch to commit");
            assert_eq!(list.committed(i, 1), vec![i]);
            assert!(list.is_empty());
        }
        let i = list.add("log".into(), id());
        list.finish(i, None);
        assert!(list.get(i).is_none());
        assert!(
            list.committed(i, 1).is_empty(),
            "a late commit finds nothing"
        );
    }
}
