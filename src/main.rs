//! The `tap-postmark` command: everything happens in [`tap_postmark::cli::main`].

fn main() -> std::process::ExitCode {
    tune_malloc();
    tap_postmark::cli::main()
}

/// Keeps glibc's allocator to one arena: with an arena per worker thread, each keeps its own
/// high-water mark and the process's memory grows with the length of a sync instead of with
/// the requests in flight. One arena was measured as fast on the tap's workload.
///
/// Blocks of 1 MiB and more (large message bodies and their RECORD lines) are always mapped on
/// their own: given back when freed, and grown without a copy. glibc would otherwise raise that
/// threshold after the first large free and grow such blocks in the heap, holding the old and
/// the new copy at once. A search page's blocks stay below it, so searches cost no more CPU
/// (at 128 or 512 KiB they cost 15% more); BENCHMARKS.md has the figures.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
