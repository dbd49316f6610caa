//! Reply parsing for a `redis_stream` source: RESP2 and RESP3 values of
//! `XREADGROUP`, `XAUTOCLAIM` and `XPENDING` into stream [`Entry`]s, ids
//! and counts.

use bytes::Bytes;
use redis::Value;

/// One stream entry as read: its id and its fields in order.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// The entry id (`MS-SEQ`), which `XACK` and claims name.
    pub(super) id: String,
    /// The entry's field-value pairs (none once deleted from the stream).
    pub(super) fields: Vec<(Bytes, Bytes)>,
}

/// The elements of an array reply (a nil or other reply: none).
pub(super) fn into_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        Value::Attribute { data, .. } => into_array(*data),
        _ => Vec::new(),
    }
}

/// A bulk or simple string (or an integer) as bytes.
fn as_bytes(v: Value) -> Option<Bytes> {
    match v {
        Value::BulkString(b) => Some(Bytes::from(b)),
        Value::SimpleString(s) => Some(Bytes::from(s)),
        Value::VerbatimString { text, .. } => Some(Bytes::from(text)),
        Value::Int(n) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}

/// A string reply as text (lossy).
pub(super) fn as_string(v: Value) -> Option<String> {
    as_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// An `XREADGROUP` reply: `[[stream, [[id, [f, v, ...]], ...]]]` (RESP2) or
/// `{stream: [...]}` (RESP3); nil when the block timed out.
pub(super) fn parse_read(reply: Value) -> Vec<Entry> {
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
pub(super) fn parse_entries(v: Value) -> Vec<Entry> {
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
