//! The `retrovue` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

/// Scheduling allocates hundreds of small strings per channel-day (event ids, asset ids); mimalloc
/// builds them about twice as fast as the system allocator (see `benches/core.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = retrovue::cli::Cli::parse();
    let serve = matches!(cli.command, retrovue::cli::Command::Serve(_));
    if !serve {
        // A command whose output is piped into `head` should end quietly like any Unix tool,
        // not panic on a closed pipe. The daemon keeps Rust's default (SIGPIPE ignored): a
        // viewer hanging up must only fail that viewer's write.
        // SAFETY: restoring a signal's default disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    retrovue::cli::init_logging(&cli.global, serve);
    if let Err(error) = retrovue::cli::run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
