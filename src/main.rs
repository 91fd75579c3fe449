//! `tonewatch`: the command line (see `cli`); all the work is in the
//! library and `tonewatch-core`.

mod cli;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .with_ansi(io::stderr().is_terminal())
        .init();
    cli::run(cli::Cli::parse().command)
}
