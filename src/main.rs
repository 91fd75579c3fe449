//! `tonewatch`: the command line (see `cli`); all the work is in the
//! library and `tonewatch-core`.

mod cli;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let log = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        cli::LogFormat::Json => log.json().init(),
        cli::LogFormat::Text => {
            // https://no-color.org: set and not empty means no colours.
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            log.without_time()
                .with_ansi(io::stderr().is_terminal() && !no_color)
                .init();
        }
    }
    cli::run(cli.command)
}
