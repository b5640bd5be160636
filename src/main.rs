//! The `tap-postmark` command: everything happens in [`tap_postmark::cli::main`].

fn main() -> std::process::ExitCode {
    one_malloc_arena();
    tap_postmark::cli::main()
}

/// Keeps glibc's allocator to one arena: with an arena per worker thread, each keeps its own
/// high-water mark and the process's memory grows with the length of a sync instead of with
/// the requests in flight. One arena was measured as fast on the tap's workload.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
