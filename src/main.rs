//! The `tap-postmark` command: everything happens in [`tap_postmark::cli::main`].

fn main() -> std::process::ExitCode {
    tap_postmark::cli::main()
}
