//! Checkpoints in `pipeline.data_dir`: how far each file source has read
//! *and had acknowledged* (per file, with the file's identity, so rotation
//! and truncation are detected), and the length each effectively-once file
//! sink had at that point. One JSON file, replaced atomically (write a
//! temporary file, fsync, rename, fsync the directory), so a crash leaves
//! either the old checkpoint or the new one, never half of one.
//!
//! The [`Store`] also decides which sink lengths count: only those reported
//! by the sink incarnation it tracks now ([`Store::track_sinks`]), so a
//! length from a graph that a reload replaced can never overwrite the one
//! of the file being written now.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// How many leading bytes of a file identify it besides device and inode
/// (a recreated file may get the old inode back).
pub const FINGERPRINT_BYTES: usize = 256;

/// Everything checkpointed by one pipeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// Per source: per file path, where reading resumes.
    #[serde(default)]
    pub sources: BTreeMap<String, BTreeMap<String, FilePosition>>,
    /// Per effectively-once file sink: its length when the sources'
    /// positions above were committed.
    #[serde(default)]
    pub sinks: BTreeMap<String, u64>,
    /// Per effectively-once file sink: the file its length above is of. A
    /// restart whose config points the sink elsewhere must not cut that
    /// other file back (absent in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sink_files: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The length to cut sink `name` writing `path` back to at start:
    /// `None` when nothing was recorded, or it was recorded for another file.
    pub fn sink_length(&self, name: &str, path: &Path) -> Option<u64> {
        let len = *self.sinks.get(name)?;
        match self.sink_files.get(name) {
            Some(p) if Path::new(p) != path => None,
            _ => Some(len),
        }
    }
}

/// An effectively-once sink of the graph about to run, for
/// [`Store::track_sinks`].
pub struct TrackedSink {
    /// The key its writer marks acknowledged batches with (one per
    /// incarnation: compared by pointer, not by name).
    pub key: Arc<str>,
    /// The file it writes.
    pub path: String,
    /// The file's length now, before the sink's first write.
    pub length: u64,
}

/// Where to resume one file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilePosition {
    /// Identity: device and inode…
    pub dev: u64,
    /// …inode…
    pub ino: u64,
    /// …and a hash of the first `fingerprint_len` bytes (as read then).
    pub fingerprint: u64,
    /// How many bytes the fingerprint covers (fewer than
    /// [`FINGERPRINT_BYTES`] for a file that was short then).
    #[serde(default)]
    pub fingerprint_len: usize,
    /// Byte offset (of the decompressed stream for `.gz`) of the next line.
    pub offset: u64,
    /// Number of lines before `offset`.
    pub line: u64,
}

/// Identity of a file as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Its first bytes (up to [`FINGERPRINT_BYTES`]).
    pub head: Vec<u8>,
}

impl FileId {
    /// Reads the identity of `path`.
    pub fn of(path: &Path) -> io::Result<FileId> {
        let meta = fs::metadata(path)?;
        let mut head = vec![0u8; FINGERPRINT_BYTES];
        let mut f = fs::File::open(path)?;
        let n = read_up_to(&mut f, &mut head)?;
        head.truncate(n);
        Ok(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            head,
        })
    }

    /// True when `pos` was recorded for this same file: same device and
    /// inode, and the same first bytes (as many as were there then; a file
    /// that only grew keeps its identity, a recreated or rewritten one not).
    pub fn matches(&self, pos: &FilePosition) -> bool {
        self.dev == pos.dev
            && self.ino == pos.ino
            && self.head.len() >= pos.fingerprint_len
            && fingerprint(&self.head[..pos.fingerprint_len]) == pos.fingerprint
    }

    /// A position at `offset` (after `line` lines) in this file.
    pub fn position(&self, offset: u64, line: u64) -> FilePosition {
        FilePosition {
            dev: self.dev,
            ino: self.ino,
            fingerprint: fingerprint(&self.head),
            fingerprint_len: self.head.len(),
            offset,
            line,
        }
    }
}

fn read_up_to(f: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// FNV-1a of `bytes` (stable across runs and versions).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The checkpoint and, in memory only, which sink incarnations count.
#[derive(Debug, Default)]
struct State {
    checkpoint: Checkpoint,
    /// Per sink name: the mark key of the incarnation whose lengths count.
    marking: HashMap<String, Arc<str>>,
}

/// The checkpoint file of a pipeline, kept in memory and written back.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    state: Mutex<State>,
    dirty: AtomicBool,
    /// One writer at a time: the periodic flush and the final one share
    /// the temporary file.
    writing: Mutex<()>,
}

impl Store {
    /// Opens (or starts) the checkpoint in `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Store> {
        fs::create_dir_all(data_dir)
            .map_err(|e| anyhow::anyhow!("creating data_dir {}: {e}", data_dir.display()))?;
        let path = data_dir.join("checkpoint.json");
        let state = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "reading {}: {e} (move it away to start over)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => anyhow::bail!("reading {}: {e}", path.display()),
        };
        Ok(Store {
            path,
            state: Mutex::new(State {
                checkpoint: state,
                marking: HashMap::new(),
            }),
            dirty: AtomicBool::new(false),
            writing: Mutex::new(()),
        })
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> Checkpoint {
        self.lock().checkpoint.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state (written back by the next [`flush`](Self::flush)).
    pub fn update(&self, f: impl FnOnce(&mut Checkpoint)) {
        f(&mut self.lock().checkpoint);
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Commits where source `source` resumes in `file`, and the sink
    /// lengths its batch reached, in one update: the checkpoint never holds
    /// an offset without the lengths that contain its lines. Lengths from a
    /// sink incarnation that is no longer tracked are ignored: their lines
    /// are below the length recorded when the current one was tracked (same
    /// file, the old graph had drained) or in a file no longer written.
    pub fn commit(
        &self,
        source: &str,
        file: String,
        position: FilePosition,
        marks: &[(Arc<str>, u64)],
    ) {
        let mut state = self.lock();
        let State {
            checkpoint,
            marking,
        } = &mut *state;
        checkpoint
            .sources
            .entry(source.to_string())
            .or_default()
            .insert(file, position);
        for (key, len) in marks {
            if marking.get(&**key).is_some_and(|k| Arc::ptr_eq(k, key)) {
                let l = checkpoint.sinks.entry(key.to_string()).or_insert(0);
                *l = (*l).max(*len);
            }
        }
        drop(state);
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Starts counting the lengths of `sinks`, the effectively-once sinks
    /// of the graph about to run (called before any of them writes): each
    /// length is set to the file's length now. Every other sink's length is
    /// dropped, so that a sink which no longer records its length (made
    /// unordered, removed) leaves no stale length for a later start to cut
    /// its file back to.
    pub fn track_sinks(&self, sinks: &[TrackedSink]) {
        let mut state = self.lock();
        let State {
            checkpoint,
            marking,
        } = &mut *state;
        marking.clear();
        checkpoint
            .sinks
            .retain(|name, _| sinks.iter().any(|s| &*s.key == name));
        checkpoint
            .sink_files
            .retain(|name, _| sinks.iter().any(|s| &*s.key == name));
        for s in sinks {
            marking.insert(s.key.to_string(), s.key.clone());
            checkpoint.sinks.insert(s.key.to_string(), s.length);
            checkpoint
                .sink_files
                .insert(s.key.to_string(), s.path.clone());
        }
        drop(state);
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Writes the state if it changed: temporary file, fsync, rename.
    pub fn flush(&self) -> io::Result<()> {
        let _one_writer = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&self.snapshot()).map_err(io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if result.is_err() {
            self.dirty.store(true, Ordering::SeqCst);
        }
        result
    }

    /// Where the checkpoint lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_round_trip_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.update(|c| {
            c.sinks.insert("out".into(), 42);
            c.sources.entry("app".into()).or_default().insert(
                "/x.log".into(),
                FilePosition {
                    dev: 1,
                    ino: 2,
                    fingerprint: 3,
                    fingerprint_len: 4,
                    offset: 5,
                    line: 6,
                },
            );
        });
        store.flush().unwrap();
        assert!(!dir.path().join("checkpoint.json.tmp").exists());
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(again.snapshot(), store.snapshot());
    }

    fn pos(offset: u64) -> FilePosition {
        FilePosition {
            offset,
            ..FilePosition::default()
        }
    }

    fn tracked(key: &Arc<str>, path: &str, length: u64) -> TrackedSink {
        TrackedSink {
            key: key.clone(),
            path: path.into(),
            length,
        }
    }

    #[test]
    fn only_the_tracked_incarnation_moves_a_sink_length() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old: Arc<str> = Arc::from("out");
        store.track_sinks(&[tracked(&old, "/a", 0)]);
        store.commit("app", "/in".into(), pos(10), &[(old.clone(), 100)]);
        assert_eq!(store.snapshot().sinks["out"], 100);
        // A reload points the sink at a shorter file: a late length of the
        // old incarnation must not move the new one.
        let new: Arc<str> = Arc::from("out");
        store.track_sinks(&[tracked(&new, "/b", 5)]);
        store.commit("app", "/in".into(), pos(20), &[(old, 900)]);
        let cp = store.snapshot();
        assert_eq!(cp.sinks["out"], 5);
        assert_eq!(
            cp.sources["app"]["/in"].offset, 20,
            "the offset still commits"
        );
        store.commit("app", "/in".into(), pos(30), &[(new, 50)]);
        assert_eq!(store.snapshot().sinks["out"], 50);
    }

    #[test]
    fn a_sink_that_stops_marking_leaves_no_length_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key: Arc<str> = Arc::from("out");
        store.track_sinks(&[tracked(&key, "/a", 7)]);
        store.track_sinks(&[]);
        store.commit("app", "/in".into(), pos(1), &[(key, 70)]);
        let cp = store.snapshot();
        assert!(cp.sinks.is_empty() && cp.sink_files.is_empty(), "{cp:?}");
    }

    #[test]
    fn a_length_is_used_only_for_the_file_it_was_taken_on() {
        let mut cp = Checkpoint::default();
        cp.sinks.insert("out".into(), 42);
        assert_eq!(
            cp.sink_length("out", Path::new("/a")),
            Some(42),
            "older checkpoints name no file"
        );
        cp.sink_files.insert("out".into(), "/a".into());
        assert_eq!(cp.sink_length("out", Path::new("/a")), Some(42));
        assert_eq!(cp.sink_length("out", Path::new("/b")), None);
        assert_eq!(cp.sink_length("other", Path::new("/a")), None);
    }

    #[test]
    fn identity_changes_with_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "hello\n").unwrap();
        let pos = FileId::of(&p).unwrap().position(6, 1);
        fs::write(&p, "hello\nand more\n").unwrap();
        assert!(
            FileId::of(&p).unwrap().matches(&pos),
            "a file that grew is the same file"
        );
        fs::write(&p, "HELLO\n").unwrap();
        assert!(
            !FileId::of(&p).unwrap().matches(&pos),
            "a rewritten file is not"
        );
    }
}
