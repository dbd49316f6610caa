//! Two small helpers the counters, latency and the report share: a lock
//! that survives a poisoned mutex (a counter is still worth reading after a
//! panic elsewhere), and a duration as saturating nanoseconds.

use std::sync::Mutex;
use std::time::Duration;

/// A duration in nanoseconds, saturating (an atomic counter holds `u64`).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Locks `m`, taking the data of a poisoned lock as it is: a counter is
/// still worth reading after a panic elsewhere.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
