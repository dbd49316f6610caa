//! `type = "redis_stream"`: reads a Redis stream as one consumer of a
//! consumer group, so that several daemons share the entries.
//!
//! - Entries are read with `XREADGROUP ... >` in batches of `batch_size`,
//!   blocking at most `block` when the stream is drained. The group is
//!   created (with `MKSTREAM`) when missing, from `start_id`.
//! - Each entry becomes the JSON value held in its field `field` (`data`);
//!   an entry without that field becomes an object of all its fields as
//!   strings; a `field` that is not JSON becomes an error event.
//! - Every batch carries an acknowledgement: its entry ids are `XACK`ed only
//!   once every event derived from them was delivered (written by the
//!   sinks, dropped on purpose, or written to an error output). A consumer
//!   that dies leaves its entries pending in the group.
//! - Every `claim_idle / 2` the source runs `XAUTOCLAIM` for entries pending
//!   longer than `claim_idle` (a dead consumer's, or its own that a lost
//!   reply left behind) and delivers them again. An entry whose delivery
//!   count goes over `max_deliveries` goes to the error output instead, so
//!   a poison entry does not loop forever.
//! - Connection loss (Redis restarting) is retried with exponential backoff
//!   and full jitter; after reconnecting the source first re-reads its own
//!   pending entries (`XREADGROUP ... 0`) that it is not already delivering,
//!   so an entry whose reply was lost with the connection is not stranded.
//! - Shutdown: the source stops reading (within `block`), closes its
//!   outputs, and returns once every batch it read is acknowledged and
//!   `XACK`ed.
//!
//! Delivery is at least once: an entry claimed from a consumer that was
//! still alive but slow, or re-read after a crash, can be delivered twice.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jaq_json::Val;
use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::ack::{Ack, AckData, AckToken};
use crate::codec::{self, Codec, Line};
use crate::config::duration;
use crate::event::{Event, error_event};
use crate::sinks::retry::{Retries, RetryPolicy};
use crate::sources::SourceContext;

/// Settings of a `redis_stream` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamConfig {
    /// `redis://[:password@]host:port[/db]`; printed only redacted.
    pub url: crate::redact::SecretUrl,
    /// The stream key.
    pub stream: String,
    /// The consumer group (created when missing).
    pub group: String,
    /// This daemon's consumer name in the group (default: `HOSTNAME-PID`).
    #[serde(default)]
    pub consumer: Option<String>,
    /// The entry field holding the event's JSON text.
    #[serde(default = "default_field")]
    pub field: String,
    /// Entries per `XREADGROUP` (and per batch sent downstream).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long one read waits for new entries (also bounds how long a
    /// shutdown waits for the read in progress).
    #[serde(default = "default_block", deserialize_with = "duration::deserialize")]
    pub block: Duration,
    /// Entries pending (read, not acknowledged) longer than this are claimed
    /// from their consumer and delivered again. Must exceed the longest time
    /// a batch takes to get through the pipeline.
    #[serde(
        default = "default_claim_idle",
        deserialize_with = "duration::deserialize"
    )]
    pub claim_idle: Duration,
    /// An entry delivered more often than this goes to the error output.
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u64,
    /// Where a newly created group starts: `"0"` (default: the whole
    /// stream) or `"$"` (only entries added from now on).
    #[serde(default = "default_start_id")]
    pub start_id: String,
}

fn default_field() -> String {
    "data".into()
}
fn default_batch_size() -> usize {
    500
}
fn default_block() -> Duration {
    Duration::from_secs(1)
}
fn default_claim_idle() -> Duration {
    Duration::from_secs(30)
}
fn default_max_deliveries() -> u64 {
    5
}
fn default_start_id() -> String {
    "0".into()
}

/// Reconnect waits: full jitter from 100 ms up to 5 s, never giving up.
const RECONNECT: RetryPolicy = RetryPolicy {
    attempts: u32::MAX,
    initial: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

/// Most entry ids acknowledged by one `XACK`.
const ACK_CHUNK: usize = 10_000;

impl RedisStreamConfig {
    /// Checks the URL's form and the limits.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.url.redis_client() {
            out.push((None, e));
        }
        if self.stream.is_empty() {
            out.push((None, "`stream` must not be empty".into()));
        }
        if self.group.is_empty() {
            out.push((None, "`group` must not be empty".into()));
        }
        if self.consumer.as_deref() == Some("") {
            out.push((None, "`consumer` must not be empty".into()));
        }
        // One reply of `batch_size` entries is held in memory at once.
        let max_batch = crate::config::limits::MAX_REDIS_BATCH;
        out.extend(
            crate::config::limits::int_range("batch_size", self.batch_size, 1, max_batch)
                .map(|m| (None, m)),
        );
        if self.block < Duration::from_millis(1) {
            out.push((
                None,
                "`block` must be at least 1ms (0 would wait forever)".into(),
            ));
        }
        if self.claim_idle < Duration::from_millis(1) {
            out.push((None, "`claim_idle` must be at least 1ms".into()));
        }
        if self.max_deliveries == 0 {
            out.push((None, "`max_deliveries` must be at least 1".into()));
        }
        out
    }

    /// Checks the URL (the server may well be down at start: the source
    /// then retries until it is up).
    pub fn open(&self) -> anyhow::Result<RedisStreamSource> {
        let client = self.url.redis_client().map_err(anyhow::Error::msg)?;
        let consumer = self.consumer.clone().unwrap_or_else(default_consumer);
        Ok(RedisStreamSource {
            client,
            consumer,
            config: self.clone(),
        })
    }
}

/// `HOSTNAME-PID`: unique per process on a host, so that a restarted
/// daemon is a new consumer and its predecessor's entries are claimed.
fn default_consumer() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".into());
    format!("{host}-{}", std::process::id())
}

/// Opens a connection with timeouts that suit blocking reads.
pub(crate) async fn connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// A `redis_stream` source ready to run.
#[derive(Debug)]
pub struct RedisStreamSource {
    client: redis::Client,
    consumer: String,
    config: RedisStreamConfig,
}

/// One stream entry as read: its id and its fields in order.
#[derive(Debug, Default)]
struct Entry {
    id: String,
    fields: Vec<(Bytes, Bytes)>,
}

/// Entry ids read and not yet `XACK`ed: a claim skips them (they are on
/// their way through this very pipeline).
type InFlight = Arc<Mutex<HashSet<String>>>;

/// Where the next read comes from.
enum Phase {
    /// Re-reading this consumer's own pending entries from this id (after a
    /// (re)connect).
    History(String),
    /// New entries (`>`).
    New,
}

impl RedisStreamSource {
    /// Reads until shutdown (or until nothing downstream is left), then
    /// waits until everything read is acknowledged and `XACK`ed.
    pub async fn run(mut self, mut ctx: SourceContext) -> anyhow::Result<()> {
        // A batch never exceeds what the graph's edges are sized for (a
        // `delay` stage downstream asks for small batches).
        self.config.batch_size = self.config.batch_size.min(ctx.batch_events).max(1);
        let c = &self.config;
        tracing::info!(
            "source `{}`: reading redis stream `{}` as consumer `{}` of group `{}`",
            ctx.name,
            c.stream,
            self.consumer,
            c.group
        );
        let in_flight: InFlight = Arc::default();
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let acker = tokio::spawn(acknowledge(
            self.client.clone(),
            c.stream.clone(),
            c.group.clone(),
            ctx.name.clone(),
            ack_rx,
            in_flight.clone(),
        ));
        self.read(&mut ctx, &ack_tx, &in_flight).await;
        // Everything read is sent: let the graph close, then wait until all
        // of it is acknowledged and XACKed.
        drop(ack_tx);
        ctx.outputs.close().await;
        acker.await?;
        tracing::debug!("source `{}`: every batch read is acknowledged", ctx.name);
        Ok(())
    }

    /// The read loop: connects, reads, claims, emits; reconnects on errors.
    async fn read(
        &self,
        ctx: &mut SourceContext,
        ack_tx: &mpsc::UnboundedSender<AckToken>,
        in_flight: &InFlight,
    ) {
        let c = &self.config;
        let response_timeout = c.block + Duration::from_secs(10);
        let claim_every = (c.claim_idle / 2).max(Duration::from_millis(50));
        let mut conn: Option<MultiplexedConnection> = None;
        let mut retries = Retries::new(RECONNECT);
        let mut phase = Phase::New;
        let mut next_claim = Instant::now() + claim_every;
        let mut claim_cursor = "0-0".to_string();
        let mut seq = 0u64;
        loop {
            if ctx.shutdown.is_shutdown() {
                return;
            }
            let Some(con) = conn.as_mut() else {
                match self.start(response_timeout).await {
                    Ok(new) => {
                        let failures = retries.reset();
                        if failures > 0 {
                            tracing::info!(
                                "source `{}`: connected to redis after {failures} failed attempts",
                                ctx.name
                            );
                        }
                        conn = Some(new);
                        phase = Phase::History("0".into());
                    }
                    Err(e) => {
                        if !self.pause(ctx, &mut retries, &format!("{e}")).await {
                            return;
                        }
                    }
                }
                continue;
            };
            let step = if Instant::now() >= next_claim {
                let r = self.claim(con, &mut claim_cursor, in_flight).await;
                if claim_cursor == "0-0" {
                    next_claim = Instant::now() + claim_every;
                }
                r
            } else {
                match &mut phase {
                    Phase::History(from) => {
                        match self.read_group(con, from, None).await {
                            Ok(entries) => {
                                match entries.last() {
                                    Some(last) => *from = last.id.clone(),
                                    None => phase = Phase::New,
                                }
                                // Entries on their way already are not read twice.
                                let fresh: Vec<Entry> = {
                                    let set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
                                    entries
                                        .into_iter()
                                        .filter(|e| !set.contains(&e.id))
                                        .collect()
                                };
                                match self.counts(con, &fresh).await {
                                    Ok(counts) => Ok((fresh, counts)),
                                    Err(e) => Err(e),
                                }
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Phase::New => self
                        .read_group(con, ">", Some(c.block))
                        .await
                        .map(|e| (e, HashMap::new())),
                }
            };
            match step {
                Ok((entries, counts)) => {
                    if entries.is_empty() {
                        continue;
                    }
                    if self
                        .emit(ctx, entries, &counts, seq, ack_tx, in_flight)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    seq += 1;
                }
                Err(e) => {
                    conn = None;
                    if !self.pause(ctx, &mut retries, &format!("{e}")).await {
                        return;
                    }
                }
            }
        }
    }

    /// Connects and makes sure the group exists.
    async fn start(&self, response_timeout: Duration) -> redis::RedisResult<MultiplexedConnection> {
        let c = &self.config;
        let mut con = connect(&self.client, response_timeout).await?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&c.stream)
            .arg(&c.group)
            .arg(&c.start_id)
            .arg("MKSTREAM")
            .query_async(&mut con)
            .await;
        match created {
            Ok(()) => {
                tracing::info!(
                    "created group `{}` on stream `{}` from id {}",
                    c.group,
                    c.stream,
                    c.start_id
                );
                Ok(con)
            }
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(con),
            Err(e) => Err(e),
        }
    }

    /// Counts a failure, logs it (the first loudly, then every tenth) and
    /// waits the backoff; false when shutdown came first.
    async fn pause(&self, ctx: &mut SourceContext, retries: &mut Retries, what: &str) -> bool {
        // `RECONNECT` never runs out of tries.
        let wait = retries.failed().unwrap_or_else(|| retries.wait());
        if retries.loud() {
            tracing::warn!(
                "source `{}`: redis {}: {} (attempt {}); retrying in {wait:?}",
                ctx.name,
                self.config.url,
                self.config.url.scrub(what),
                retries.failures()
            );
        }
        let mut shutdown = ctx.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = shutdown.recv() => false,
        }
    }

    /// `XREADGROUP` from `from` (`>` or an id), blocking when `block` is set.
    async fn read_group(
        &self,
        con: &mut MultiplexedConnection,
        from: &str,
        block: Option<Duration>,
    ) -> redis::RedisResult<Vec<Entry>> {
        let c = &self.config;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&c.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(c.batch_size);
        if let Some(b) = block {
            cmd.arg("BLOCK").arg(b.as_millis().max(1) as u64);
        }
        cmd.arg("STREAMS").arg(&c.stream).arg(from);
        let reply: Value = cmd.query_async(con).await?;
        Ok(parse_read(reply))
    }

    /// `XAUTOCLAIM` one page of entries idle over `claim_idle`; returns the
    /// ones not already on their way here, with their delivery counts.
    async fn claim(
        &self,
        con: &mut MultiplexedConnection,
        cursor: &mut String,
        in_flight: &InFlight,
    ) -> redis::RedisResult<(Vec<Entry>, HashMap<String, u64>)> {
        let c = &self.config;
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&c.stream)
            .arg(&c.group)
            .arg(&self.consumer)
            .arg(c.claim_idle.as_millis().max(1) as u64)
            .arg(cursor.as_str())
            .arg("COUNT")
            .arg(c.batch_size)
            .query_async(con)
            .await?;
        let mut parts = into_array(reply).into_iter();
        *cursor = parts
            .next()
            .and_then(as_string)
            .unwrap_or_else(|| "0-0".into());
        let entries = parts.next().map(parse_entries).unwrap_or_default();
        let fresh: Vec<Entry> = {
            let set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .into_iter()
                .filter(|e| !set.contains(&e.id))
                .collect()
        };
        if !fresh.is_empty() {
            tracing::info!(
                "claimed {} entries of stream `{}` pending over {:?}",
                fresh.len(),
                c.stream,
                c.claim_idle
            );
        }
        let counts = self.counts(con, &fresh).await?;
        Ok((fresh, counts))
    }

    /// Delivery counts of `entries` (pending for this consumer), by id.
    async fn counts(
        &self,
        con: &mut MultiplexedConnection,
        entries: &[Entry],
    ) -> redis::RedisResult<HashMap<String, u64>> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(HashMap::new());
        };
        let c = &self.config;
        let reply: Value = redis::cmd("XPENDING")
            .arg(&c.stream)
            .arg(&c.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(entries.len().max(c.batch_size))
            .arg(&self.consumer)
            .query_async(con)
            .await?;
        let mut counts = HashMap::new();
        for row in into_array(reply) {
            let mut f = into_array(row).into_iter();
            let id = f.next().and_then(as_string);
            let n = f.nth(2).and_then(|v| match v {
                Value::Int(n) => Some(n as u64),
                other => as_string(other).and_then(|s| s.parse().ok()),
            });
            if let (Some(id), Some(n)) = (id, n) {
                counts.insert(id, n);
            }
        }
        Ok(counts)
    }

    /// Turns entries into one batch of events (and error events) carrying
    /// one acknowledgement for all their ids, and sends it.
    async fn emit(
        &self,
        ctx: &mut SourceContext,
        entries: Vec<Entry>,
        counts: &HashMap<String, u64>,
        seq: u64,
        ack_tx: &mpsc::UnboundedSender<AckToken>,
        in_flight: &InFlight,
    ) -> Result<(), crate::topology::edge::Closed> {
        let c = &self.config;
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        {
            let mut set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
            set.extend(ids.iter().cloned());
        }
        let ack = Ack::new(seq, AckData::Ids(ids), ack_tx);
        let mut good = Vec::with_capacity(entries.len());
        let mut bad = Vec::new();
        let mut bytes = 0u64;
        for entry in entries {
            bytes += entry
                .fields
                .iter()
                .map(|(k, v)| (k.len() + v.len()) as u64)
                .sum::<u64>();
            if entry.fields.is_empty() {
                // Deleted from the stream meanwhile: nothing to deliver, the
                // id is acknowledged with the batch.
                continue;
            }
            let delivered = counts.get(&entry.id).copied().unwrap_or(1);
            let mut event = if delivered > c.max_deliveries {
                let reason = format!(
                    "stream entry {} delivered {delivered} times, over max_deliveries ({})",
                    entry.id, c.max_deliveries
                );
                let input = match entry_value(&ctx.name, &c.field, &entry) {
                    Ok(e) | Err(e) => e.into_value(),
                };
                Err(error_event(&ctx.name, &reason, input, 0))
            } else {
                entry_value(&ctx.name, &c.field, &entry)
            };
            match &mut event {
                Ok(e) | Err(e) => e.ack = Some(ack.clone()),
            }
            match event {
                Ok(e) => good.push(e),
                Err(e) => bad.push(e),
            }
        }
        drop(ack);
        ctx.add_bytes(bytes);
        ctx.emit(good, bad).await
    }
}

/// The event an entry holds: the JSON in `field`, or all fields as strings.
/// `Err` holds the error event.
fn entry_value(stage: &str, field: &str, entry: &Entry) -> Result<Event, Event> {
    match entry
        .fields
        .iter()
        .find(|(k, _)| k.as_ref() == field.as_bytes())
    {
        Some((_, v)) => match codec::decode(Codec::Json, stage, 0, Line::Complete(v)) {
            Some(r) => r,
            None => Err(error_event(
                stage,
                &format!("field `{field}` of stream entry {} is empty", entry.id),
                Val::from(String::from_utf8_lossy(v).into_owned()),
                0,
            )),
        },
        None => {
            let mut map = jaq_json::Map::default();
            for (k, v) in &entry.fields {
                map.insert(
                    Val::from(String::from_utf8_lossy(k).into_owned()),
                    Val::from(String::from_utf8_lossy(v).into_owned()),
                );
            }
            Ok(Event::new(Val::obj(map)))
        }
    }
}

/// Sends `XACK` for acknowledged batches, reconnecting as often as it takes,
/// until every handle is gone (the source has stopped and everything it
/// read was delivered).
async fn acknowledge(
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

/// The elements of an array reply (a nil or other reply: none).
fn into_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        Value::Attribute { data, .. } => into_array(*data),
        _ => Vec::new(),
    }
}

fn as_bytes(v: Value) -> Option<Bytes> {
    match v {
        Value::BulkString(b) => Some(Bytes::from(b)),
        Value::SimpleString(s) => Some(Bytes::from(s)),
        Value::VerbatimString { text, .. } => Some(Bytes::from(text)),
        Value::Int(n) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}

fn as_string(v: Value) -> Option<String> {
    as_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// An `XREADGROUP` reply: `[[stream, [[id, [f, v, ...]], ...]]]` (RESP2) or
/// `{stream: [...]}` (RESP3); nil when the block timed out.
fn parse_read(reply: Value) -> Vec<Entry> {
    let mut out = Vec::new();
    let streams = match reply {
        Value::Map(m) => m.into_iter().map(|(_, v)| v).collect(),
        other => into_array(other)
            .into_iter()
            .filter_map(|s| into_array(s).into_iter().nth(1))
            .collect::<Vec<_>>(),
    };
    for entries in streams {
        out.extend(parse_entries(entries));
    }
    out
}

/// `[[id, [f, v, ...]], ...]`; an entry deleted meanwhile has nil fields
/// and is kept with none (it is still acknowledged).
fn parse_entries(v: Value) -> Vec<Entry> {
    into_array(v)
        .into_iter()
        .filter_map(|e| {
            let mut parts = into_array(e).into_iter();
            let id = parts.next().and_then(as_string)?;
            let mut fields = Vec::new();
            let mut flat = parts.next().map(into_array).unwrap_or_default().into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                if let (Some(k), Some(v)) = (as_bytes(k), as_bytes(v)) {
                    fields.push((k, v));
                }
            }
            Some(Entry { id, fields })
        })
        .collect()
}

impl crate::sources::SourceKind for RedisStreamConfig {
    fn validate(&self) -> Vec<crate::sources::Problem> {
        RedisStreamConfig::validate(self)
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.open()?))
    }

    fn describe(&self) -> String {
        format!("redis_stream {} group {}", self.stream, self.group)
    }
}

impl crate::sources::RunSource for RedisStreamSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(RedisStreamSource::run(*self, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_a_read_reply_and_turns_entries_into_events() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("data"), bulk(r#"{"a":1}"#)]),
                ]),
                Value::Array(vec![
                    bulk("2-0"),
                    Value::Array(vec![bulk("x"), bulk("y"), bulk("n"), bulk("3")]),
                ]),
                Value::Array(vec![
                    bulk("3-0"),
                    Value::Array(vec![bulk("data"), bulk("{nope")]),
                ]),
                Value::Array(vec![bulk("4-0"), Value::Nil]),
            ]),
        ])]);
        let entries = parse_read(reply);
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1-0", "2-0", "3-0", "4-0"]);
        let mut out = Vec::new();
        entry_value("src", "data", &entries[0])
            .unwrap()
            .encode(Codec::Json, &mut out);
        entry_value("src", "data", &entries[1])
            .unwrap()
            .encode(Codec::Json, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":1}\n{\"x\":\"y\",\"n\":\"3\"}\n"
        );
        let mut err = Vec::new();
        entry_value("src", "data", &entries[2])
            .unwrap_err()
            .encode(Codec::Json, &mut err);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("\"stage\":\"src\""), "{err}");
        assert!(err.contains("invalid JSON"), "{err}");
        assert!(entries[3].fields.is_empty());
        assert!(parse_read(Value::Nil).is_empty());
    }
}
