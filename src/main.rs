//! The `sluice` binary: everything lives in the library; see `sluice::cli`.

/// Events are many small JSON trees allocated and freed across worker
/// threads; mimalloc's thread-local free lists make that several times
/// cheaper than the system allocator (malloc/free were ~45% of a profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
