//! `tonewatch config`: print the documented defaults, check a file, or
//! show the configuration a run would use and where it comes from.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tonewatch::Config;
use tonewatch::config::DEFAULT_CONFIG_TOML;

#[derive(Args, Debug)]
pub(crate) struct ConfigArgs {
    /// Print the default configuration, documented, as TOML.
    #[arg(long, conflicts_with_all = ["check", "show"])]
    default: bool,

    /// Print the configuration replay and live would use (every value),
    /// after a comment saying where it comes from: --config's file
    /// (TONEWATCH_CONFIG), the user's or the system's, or the defaults.
    #[arg(long, conflicts_with = "check")]
    show: bool,

    /// With --show: this file instead of the one discovered.
    #[arg(long, value_name = "TOML", env = "TONEWATCH_CONFIG", requires = "show")]
    config: Option<PathBuf>,

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
    if args.show {
        let from = args.config.clone().or_else(tonewatch::config::discover);
        let cfg = match &from {
            Some(path) => match Config::load(path) {
                Ok(cfg) => cfg,
                Err(e) => {
                    eprintln!("tonewatch: {e}");
                    return ExitCode::from(2);
                }
            },
            None => Config::default(),
        };
        let text = toml::to_string(&cfg).expect("the configuration is plain TOML");
        match &from {
            Some(path) => println!("# from {}", path.display()),
            None => println!(
                "# the defaults: no --config, TONEWATCH_CONFIG, $XDG_CONFIG_HOME/tonewatch/config.toml or {}",
                tonewatch::config::SYSTEM_CONFIG
            ),
        }
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    eprintln!("tonewatch config: give --default, --show or --check FILE");
    ExitCode::from(2)
}
