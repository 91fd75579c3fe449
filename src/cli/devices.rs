//! `tonewatch devices`: the audio inputs `live` can use.

use std::io::{self, Write};

use clap::Args;

use super::{Failure, HostArg};

#[derive(Args, Debug)]
pub(crate) struct DevicesArgs {
    /// Audio system to ask.
    #[arg(long, value_enum, default_value_t = HostArg::Auto)]
    host: HostArg,

    /// One JSON object per device instead of a table.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: &DevicesArgs) -> Result<(), Failure> {
    let host = tonewatch::capture::open_host(args.host.into())
        .map_err(|e| Failure::Input(e.to_string()))?;
    let list =
        tonewatch::capture::list_devices(&host).map_err(|e| Failure::Input(e.to_string()))?;
    let mut out = io::stdout().lock();
    if args.json {
        for d in &list {
            serde_json::to_writer(&mut out, d).map_err(|e| Failure::Output(e.into()))?;
            writeln!(out).map_err(Failure::Output)?;
        }
        return Ok(());
    }
    writeln!(out, "{} input devices ({}):", list.len(), host.id().name())
        .map_err(Failure::Output)?;
    for d in &list {
        let channels = match d.channels.as_slice() {
            [] => "?".to_string(),
            [lo, .., hi] if usize::from(hi - lo) + 1 == d.channels.len() => format!("{lo}–{hi}"),
            cs => cs.iter().map(u16::to_string).collect::<Vec<_>>().join("/"),
        };
        let rates = if d.rate_range_hz.0 == d.rate_range_hz.1 {
            format!("{} Hz", d.rate_range_hz.0)
        } else {
            format!("{}–{} Hz", d.rate_range_hz.0, d.rate_range_hz.1)
        };
        writeln!(
            out,
            "{:>3}{} {}\n      \"{}\"; {} ch; {}; {}",
            d.index,
            if d.default { "*" } else { " " },
            d.id,
            d.description,
            channels,
            rates,
            d.formats.join(", ")
        )
        .map_err(Failure::Output)?;
    }
    if list.iter().any(|d| d.default) {
        writeln!(out, "(* the default input)").map_err(Failure::Output)?;
    }
    Ok(())
}
