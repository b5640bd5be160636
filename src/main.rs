//! The `tap-postmark` command: everything happens in [`tap_postmark::cli::main`].

fn main() -> std::process::ExitCode {
    one_malloc_arena();
    tap_postmark::cli::main()
}

/// Keeps glibc's allocator to one arena: with an arena per worker thread, each keeps its own
/// high-water mark and the process's memory grows with the length of a sync instead of with
/// the requests in flight. One arena was measured as fast on the tap's workload. Blocks of
/// 128 KiB and more (message bodies) are always mapped on their own and given back when freed:
/// glibc would otherwise raise that threshold after the first large free and keep later bodies
/// in the heap (peak RSS of messages_outbound_details 19.3 → 17.5 MiB, BENCHMARKS.md).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
