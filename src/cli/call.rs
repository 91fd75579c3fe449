//! `tonewatch call start|end`: marks calls for a running `tonewatch live`
//! through its control socket (see [`tonewatch::control`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use tonewatch::control::{self, Request};

use super::Failure;

#[derive(Args, Debug)]
pub(crate) struct CallCmdArgs {
    #[command(subcommand)]
    what: CallWhat,

    /// The daemon's control socket [default:
    /// $XDG_RUNTIME_DIR/tonewatch/control.sock].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "TONEWATCH_CONTROL_SOCKET"
    )]
    socket: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum CallWhat {
    /// A call begins now (ending one that is open); prints its call_id.
    Start {
        /// The call's id, e.g. the phone system's (1-128 letters, digits
        /// and - _ . :) [default: a fresh UUID v7].
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// The CTI's reference for the customer, carried on the call's
        /// `call` records.
        #[arg(long, value_name = "REF")]
        customer_ref: Option<String>,
    },
    /// The open call ends now: its summary is printed.
    End,
}

pub(super) fn run(args: &CallCmdArgs) -> Result<(), Failure> {
    let req = match &args.what {
        CallWhat::Start { id, customer_ref } => Request::Start {
            call_id: id.clone(),
            customer_ref: customer_ref.clone(),
        },
        CallWhat::End => Request::End {},
    };
    // Say what is wrong with an id here, not only in the daemon's reply.
    control::command_of(req.clone()).map_err(Failure::Input)?;
    let path = args.socket.clone().or_else(control::default_path).ok_or_else(|| {
        Failure::Input(
            "no control socket: XDG_RUNTIME_DIR is unset; give --socket PATH (the daemon's --control-socket)"
                .into(),
        )
    })?;
    let reply = control::send(&path, &req).map_err(|e| Failure::Input(e.to_string()))?;
    if !reply.ok {
        return Err(Failure::Input(format!(
            "{}: refused: {}",
            path.display(),
            reply.error.unwrap_or_default()
        )));
    }
    if let Some(id) = reply.call_id {
        println!("{id}");
    }
    Ok(())
}
