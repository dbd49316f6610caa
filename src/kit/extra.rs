//! Counters and timings that only some stage kinds keep ([`Extra`]): an
//! `http_enrich` stage counts its requests, cache hits, retries and
//! failures and times its calls; a `tcp` source does not. A kind registers
//! them by name when it is built; `/metrics` and the report show whatever
//! a stage registered, so a new kind adds a counter without touching either.
//!
//! Registration takes a lock once per name and stage build; bumping is a
//! plain atomic (or one [`Latency`] record), as cheap as the common
//! counters.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use super::latency::Latency;
use super::sync::lock;

/// What one named value is.
#[derive(Debug, Clone)]
pub enum Value {
    /// A monotonic count (`sluice_NAME_total`).
    Counter(Arc<AtomicU64>),
    /// Durations (`sluice_NAME_seconds`, a histogram; the report's
    /// quantiles in `timings_ms`).
    Timing(Arc<Latency>),
}

/// One named value of a stage.
#[derive(Debug, Clone)]
pub struct Named {
    /// Snake-case name, unique in the process for one meaning
    /// (`http_requests`): the metric is `sluice_` + name + its suffix.
    pub name: &'static str,
    /// One sentence for the metric's `# HELP`.
    pub help: &'static str,
    /// The value.
    pub value: Value,
}

/// A stage's extra counters and timings, in registration order.
#[derive(Debug, Default)]
pub struct Extra {
    entries: Mutex<Vec<Named>>,
}

impl Extra {
    /// The counter `name`, created at zero on first use. A stage rebuilt
    /// (its other workers, a reload) gets the same counter back, so counts
    /// add up over the stage's life like the common ones.
    pub fn counter(&self, name: &'static str, help: &'static str) -> Arc<AtomicU64> {
        let mut entries = lock(&self.entries);
        for e in entries.iter() {
            if let (true, Value::Counter(c)) = (e.name == name, &e.value) {
                return c.clone();
            }
        }
        let c = Arc::new(AtomicU64::new(0));
        entries.push(Named {
            name,
            help,
            value: Value::Counter(c.clone()),
        });
        c
    }

    /// The timing `name`, created empty on first use (see [`counter`](Self::counter)).
    pub fn timing(&self, name: &'static str, help: &'static str) -> Arc<Latency> {
        let mut entries = lock(&self.entries);
        for e in entries.iter() {
            if let (true, Value::Timing(t)) = (e.name == name, &e.value) {
                return t.clone();
            }
        }
        let t = Arc::new(Latency::default());
        entries.push(Named {
            name,
            help,
            value: Value::Timing(t.clone()),
        });
        t
    }

    /// Every registered value (shared handles, read without the lock).
    pub fn snapshot(&self) -> Vec<Named> {
        lock(&self.entries).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;

    #[test]
    fn a_name_registered_twice_is_one_counter() {
        let extra = Extra::default();
        extra.counter("calls", "Calls.").fetch_add(2, Relaxed);
        extra.counter("calls", "Calls.").fetch_add(3, Relaxed);
        extra.timing("call", "Call time.");
        let all = extra.snapshot();
        assert_eq!(all.len(), 2);
        match &all[0].value {
            Value::Counter(c) => assert_eq!(c.load(Relaxed), 5),
            other => panic!("{other:?}"),
        }
        assert!(matches!(all[1].value, Value::Timing(_)));
    }
}
