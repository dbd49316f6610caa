//! Fuzz target `http_body`: the property is `sluice::fuzz_checks::http_body`
//! (see its docs); the seeds in `fuzz/corpus/http_body/` also run in
//! `tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // On a quarter of a runtime thread's stack, so that a recursion without
    // a depth limit overflows at the sizes the fuzzer tries.
    sluice::fuzz_checks::on_stack(sluice::fuzz_checks::SMALL_STACK, data, sluice::fuzz_checks::http_body);
});
