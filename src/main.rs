//! The `retrovue` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = retrovue::cli::Cli::parse();
    retrovue::cli::init_logging(&cli.global);
    if let Err(error) = retrovue::cli::run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
