//! The committer of a `file` source: writes acknowledged positions to the
//! checkpoint, in order per input, and forgets inputs fully committed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::inputs::{Inputs, lock};
use crate::kit::ack::{AckData, AckToken, Committer};
use crate::kit::checkpoint::Store;

/// Commits acknowledged batches to the checkpoint, in order per input.
pub(super) async fn commit(
    mut rx: mpsc::UnboundedReceiver<AckToken>,
    store: Arc<Store>,
    name: String,
    inputs: Inputs,
) {
    let mut committers: HashMap<usize, Committer> = HashMap::new();
    // The newest input of each path: a late commit of a rotated-away or
    // truncated predecessor must not move the checkpoint back.
    let mut newest: HashMap<PathBuf, usize> = HashMap::new();
    while let Some(token) = rx.recv().await {
        let AckData::Offset { file, .. } = token.data else {
            continue;
        };
        let committer = committers.entry(file).or_default();
        if token.failed && committer.failed_at().is_none() {
            tracing::warn!(
                "source `{name}`: a batch was not delivered; the checkpoint of input {file} stays before it (read again on the next run)"
            );
        }
        let committed = committer.ack(token);
        let n = committed.len() as u64;
        for done in committed {
            let AckData::Offset { file, end, line } = done.data else {
                continue;
            };
            let Some((path, id)) = lock(&inputs).get(file) else {
                continue;
            };
            let latest = newest.entry(path.clone()).or_insert(file);
            if file < *latest {
                continue;
            }
            *latest = file;
            store.commit(
                &name,
                path.display().to_string(),
                id.position(end, line),
                &done.marks,
            );
        }
        // A rotated-away input fully committed: forget it and its committer.
        for gone in lock(&inputs).committed(file, n) {
            committers.remove(&gone);
        }
    }
}
