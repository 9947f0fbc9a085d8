//! The `retrovue` binary: parse the command line, run it, map errors to exit codes.

use std::io::Write;

use clap::FromArgMatches;

/// Scheduling allocates hundreds of small strings per channel-day (event ids, asset ids); mimalloc
/// builds them about twice as fast as the system allocator (see `benches/core.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CLI-025: stdout that cannot be written (a reader that hung up, a full disk) ends the command
/// with exit 1 and one line naming why, never a panic's backtrace. SIGPIPE stays ignored (Rust's
/// default), so a closed pipe is a failed write like any other; `println!` reports a failed write
/// by panicking, which this hook turns into that line.
fn stdout_failures_exit_1() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(reason) = message.strip_prefix("failed printing to stdout: ") {
            stdout_failed(&reason);
        }
        default(info);
    }));
}

fn stdout_failed(reason: &dyn std::fmt::Display) -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "error: cannot write the output to stdout: {reason}"
    );
    std::process::exit(1);
}

fn main() {
    stdout_failures_exit_1();
    let parsed = retrovue::cli::command()
        .try_get_matches()
        .and_then(|m| retrovue::cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        // --help, --version and usage errors: clap's text, but a failed write is an error.
        Err(e) => {
            if let Err(error) = e.print() {
                stdout_failed(&error);
            }
            std::process::exit(e.exit_code());
        }
    };
    let serve = matches!(cli.command, retrovue::cli::Command::Serve(_));
    retrovue::cli::init_logging(&cli.global, serve);
    if let Err(error) = retrovue::cli::run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
    if let Err(error) = std::io::stdout().flush() {
        stdout_failed(&error);
    }
}
