//! Replays the committed fuzz seeds (`fuzz/corpus/TARGET/`: hand-written
//! cases, the deep-nesting lines, and whatever the fuzzers found) through
//! the same checks the cargo-fuzz targets run (`sluice::fuzz_checks`), on
//! stable, in every `cargo test`.

use std::path::PathBuf;

use sluice::fuzz_checks::{self, RUNTIME_STACK};

/// Runs every seed of `target` through `check`; at least `min` seeds.
fn replay(target: &str, check: fn(&[u8]), min: usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= min,
        "only {} seeds in {}",
        files.len(),
        dir.display()
    );
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let name = f.display().to_string();
        let r = std::panic::catch_unwind(|| fuzz_checks::on_stack(RUNTIME_STACK, &data, check));
        assert!(r.is_ok(), "seed {name} fails its check");
    }
}

#[test]
fn decode_seeds() {
    replay("decode", fuzz_checks::decode, 10);
}

#[test]
fn canonical_seeds() {
    replay("canonical", fuzz_checks::canonical, 10);
}

#[test]
fn fast_path_seeds() {
    replay("fast_path", fuzz_checks::fast_path, 10);
}

#[test]
fn http_body_seeds() {
    replay("http_body", fuzz_checks::http_body, 10);
}
