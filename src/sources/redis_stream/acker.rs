//! The `XACK` task of a `redis_stream` source: acknowledges in the group
//! the entries of every delivered batch, in chunks, reconnecting as often
//! as it takes; a failed batch is left pending for a later claim.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::{InFlight, RECONNECT};
use crate::kit::ack::{AckData, AckToken};
use crate::kit::net::redis_connect as connect;
use crate::kit::retry::Retries;

/// Most entry ids acknowledged by one `XACK`.
const ACK_CHUNK: usize = 10_000;

/// Sends `XACK` for acknowledged batches, reconnecting as often as it takes,
/// until every handle is gone (the source has stopped and everything it
/// read was delivered).
pub(super) async fn acknowledge(
    client: redis::Client,
    stream: String,
    group: String,
    stage: String,
    mut rx: mpsc::UnboundedReceiver<AckToken>,
    in_flight: InFlight,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut ids: Vec<String> = Vec::new();
    let mut retries = Retries::new(RECONNECT);
    loop {
        if ids.is_empty() {
            match rx.recv().await {
                Some(t) => take_ids(t, &mut ids, &in_flight, &stage),
                None => return,
            }
        }
        while ids.len() < ACK_CHUNK {
            match rx.try_recv() {
                Ok(t) => take_ids(t, &mut ids, &in_flight, &stage),
                Err(_) => break,
            }
        }
        if ids.is_empty() {
            continue;
        }
        if conn.is_none() {
            match connect(&client, Duration::from_secs(10)).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    ack_failed(&stage, &mut retries, &e).await;
                    continue;
                }
            }
        }
        let con = conn.as_mut().expect("connected just above");
        let done: redis::RedisResult<i64> = redis::cmd("XACK")
            .arg(&stream)
            .arg(&group)
            .arg(&ids)
            .query_async(con)
            .await;
        match done {
            Ok(_) => {
                retries.reset();
                let mut set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
                for id in ids.drain(..) {
                    set.remove(&id);
                }
            }
            Err(e) => {
                conn = None;
                ack_failed(&stage, &mut retries, &e).await;
            }
        }
    }
}

/// Adds the ids of a delivered batch to `ids`. A failed batch is never
/// XACKed: its entries stay pending in the group and are no longer counted
/// as on their way, so a later claim (or the next run) delivers them again.
fn take_ids(token: AckToken, ids: &mut Vec<String>, in_flight: &InFlight, stage: &str) {
    let AckData::Ids(v) = token.data else { return };
    if token.failed {
        tracing::warn!(
            "source `{stage}`: {} entries were not delivered; left pending, not XACKed",
            v.len()
        );
        let mut set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for id in &v {
            set.remove(id);
        }
        return;
    }
    ids.extend(v);
}

/// Counts a failed XACK, logs it (the first loudly, then every tenth) and
/// waits the backoff.
async fn ack_failed(stage: &str, retries: &mut Retries, e: &redis::RedisError) {
    // `RECONNECT` never runs out of tries.
    let wait = retries.failed().unwrap_or_else(|| retries.wait());
    if retries.loud() {
        tracing::warn!(
            "source `{stage}`: XACK failed: {e} (attempt {}); retrying in {wait:?}",
            retries.failures()
        );
    }
    tokio::time::sleep(wait).await;
}
