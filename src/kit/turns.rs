//! Turns among the workers of a stage feeding an ordered sink: a worker
//! whose output outgrows a few batches (`parts::AHEAD`) sends the rest
//! only once every earlier input batch of the same origin is fully
//! forwarded.
//!
//! Parts of a later batch sent while an earlier one is still running
//! would wait in the ordered sink's reorder buffer, which then grows with
//! the output of one jq program (`range(.n)` on several inputs at once
//! with `-w 4`). Waiting for the turn keeps them in the jq evaluation
//! instead, behind the edge's backpressure. If every worker of the stage
//! is waiting (the earlier batch has not even reached the stage), they go
//! ahead rather than deadlock: order still holds, only the bound loosens.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::kit::edge::Cursor;
use crate::kit::event::Key;

/// The shared turn state of one stage.
#[derive(Default)]
pub struct Turns {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Per origin: the next input batch not yet forwarded in order, and
    /// those forwarded out of order. Removed at the origin's end.
    streams: HashMap<u64, Track>,
    /// Workers running, and how many of them wait for a turn.
    workers: usize,
    waiting: usize,
}

#[derive(Default)]
struct Track {
    cursor: Cursor,
    /// Forwarded early: (seq, part indices) → its key.
    done: BTreeMap<(u64, Vec<u32>), Key>,
}

/// A worker's place among the stage's workers.
pub struct Seat(Arc<Turns>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.leave();
    }
}

fn indices(key: &Key) -> Vec<u32> {
    key.parts.iter().map(|p| p.index).collect()
}

impl Turns {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker starts; it counts among the workers until the seat is
    /// dropped (even by a panic, which must not leave others waiting).
    pub fn seat(self: &Arc<Self>) -> Seat {
        self.join();
        Seat(self.clone())
    }

    fn join(&self) {
        self.lock().workers += 1;
    }

    fn leave(&self) {
        let mut st = self.lock();
        st.workers = st.workers.saturating_sub(1);
        drop(st);
        // Waiters may now be all that is left.
        self.changed.notify_all();
    }

    /// Waits until every input batch before `key` is fully forwarded (or
    /// every worker waits).
    pub fn wait(&self, key: &Key) {
        let at = indices(key);
        let mut st = self.lock();
        st.waiting += 1;
        if st.waiting >= st.workers {
            self.changed.notify_all();
        }
        loop {
            let turn = st.streams.get(&key.origin).map_or_else(
                || Cursor::default().admits(key.seq, &at),
                |t| t.cursor.admits(key.seq, &at),
            );
            if turn || st.waiting >= st.workers {
                break;
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.waiting -= 1;
    }

    /// The input batch at `key` is fully forwarded.
    pub fn done(&self, key: &Key) {
        let mut st = self.lock();
        let track = st.streams.entry(key.origin).or_default();
        let at = indices(key);
        if !track.cursor.admits(key.seq, &at) {
            track.done.insert((key.seq, at), key.clone());
            return;
        }
        let mut key = key.clone();
        loop {
            track.cursor.advance(key.seq, &key.parts);
            if key.end && key.parts.iter().all(|p| p.last) {
                st.streams.remove(&key.origin);
                break;
            }
            let Some(((seq, at), _)) = track.done.first_key_value() else {
                break;
            };
            if !track.cursor.admits(*seq, at) {
                break;
            }
            key = track.done.pop_first().expect("just seen").1;
        }
        self.changed.notify_all();
    }

    /// Origins tracked (for tests of the bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().streams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_later_batch_waits_for_the_earlier_one() {
        let turns = Arc::new(Turns::default());
        turns.join();
        turns.join();
        let (k0, k1) = (Key::new(5, 0), Key::new(5, 1));
        let passed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (turns, passed) = (turns.clone(), passed.clone());
            std::thread::spawn(move || {
                turns.wait(&k1);
                passed.store(true, std::sync::atomic::Ordering::SeqCst);
                turns.done(&k1);
            })
        };
        // Until the waiter is parked (bounded: the thread starts at once).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while turns.lock().waiting == 0 {
            assert!(std::time::Instant::now() < deadline, "never waited");
            std::thread::yield_now();
        }
        assert!(!passed.load(std::sync::atomic::Ordering::SeqCst));
        turns.wait(&k0);
        turns.done(&k0);
        waiter.join().unwrap();
        assert!(passed.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(turns.tracked(), 1);
        let end = Key {
            end: true,
            ..Key::new(5, 2)
        };
        turns.done(&end);
        assert_eq!(turns.tracked(), 0, "an ended origin is forgotten");
    }

    #[test]
    fn workers_all_waiting_go_ahead() {
        let turns = Turns::default();
        turns.join();
        // The only worker waits for seq 3 whose predecessors never came.
        turns.wait(&Key::new(1, 3));
    }
}
