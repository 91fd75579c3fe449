//! `tonewatch config`: print the documented defaults, or check a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tonewatch::Config;
use tonewatch::config::DEFAULT_CONFIG_TOML;

#[derive(Args, Debug)]
pub(crate) struct ConfigArgs {
    /// Print the default configuration, documented, as TOML.
    #[arg(long, conflicts_with = "check")]
    default: bool,

    /// Check a configuration file; exit code 2 with the bad key if it is wrong.
    #[arg(long, value_name = "TOML")]
    check: Option<PathBuf>,
}

pub(super) fn run(args: &ConfigArgs) -> ExitCode {
    if let Some(path) = &args.check {
        return match Config::load(path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tonewatch: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.default {
        print!("{DEFAULT_CONFIG_TOML}");
        return ExitCode::SUCCESS;
    }
    eprintln!("tonewatch config: give --default or --check FILE");
    ExitCode::from(2)
}
