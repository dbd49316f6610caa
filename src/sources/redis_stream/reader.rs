//! The read loop of a `redis_stream` source: connecting (and creating the
//! group), `XREADGROUP` of its own pending entries then of new ones,
//! `XAUTOCLAIM` of entries idle too long, their delivery counts, and the
//! batches emitted downstream with one acknowledgement each.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jaq_json::Val;
use redis::Value;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::reply::{Entry, as_string, into_array, parse_entries, parse_read};
use super::{InFlight, RECONNECT, RedisStreamSource};
use crate::kit::ack::{Ack, AckData, AckToken};
use crate::kit::codec::{self, Codec, Line};
use crate::kit::event::{Event, error_event};
use crate::kit::net::redis_connect as connect;
use crate::kit::retry::Retries;
use crate::sources::SourceContext;

/// Where the next read comes from.
enum Phase {
    /// Re-reading this consumer's own pending entries from this id (after a
    /// (re)connect).
    History(String),
    /// New entries (`>`).
    New,
}

impl RedisStreamSource {
    /// The read loop: connects, reads, claims, emits; reconnects on errors.
    pub(super) async fn read(
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
    ) -> Result<(), crate::kit::edge::Closed> {
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
