//! The control socket of `tonewatch live`: a CTI connector or a softphone
//! script marks where calls begin and end (`tonewatch call start|end`).
//!
//! A Unix stream socket, by default `$XDG_RUNTIME_DIR/tonewatch/control.sock`
//! (the folder made owner-only, the socket `0600`); a connection from
//! another user is refused by its peer credentials too, so a socket put
//! somewhere more open still answers only its owner. One request a
//! connection, one JSON line each way:
//!
//! ```text
//! → {"call":"start","call_id":"A-1029","customer_ref":"C-77"}   (both optional)
//! ← {"ok":true,"call_id":"A-1029"}
//! → {"call":"end"}
//! ← {"ok":true}
//! ← {"ok":false,"error":"call_id: at most 128 characters"}
//! ```
//!
//! A start without an id gets a UUID v7. A second `live` refuses a socket
//! that answers; a socket file nobody answers on (a crash) is replaced.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};
use tonewatch_core::calls::{CallCommand, CallSource};

/// Longest call id or customer reference.
pub const MAX_ID: usize = 128;
/// Longest request line.
const MAX_LINE: u64 = 4096;
/// A client gets this long to send its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// A request on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// A call begins.
    Start {
        /// Its id (else a UUID v7).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        /// The CTI's reference for the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_ref: Option<String>,
    },
    /// The call ends.
    End {},
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Taken.
    pub ok: bool,
    /// The started call's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    fn refused(why: impl Into<String>) -> Self {
        Self {
            ok: false,
            call_id: None,
            error: Some(why.into()),
        }
    }
}

/// The default socket: `$XDG_RUNTIME_DIR/tonewatch/control.sock`, `None`
/// when the variable is unset (no per-user runtime folder to trust).
#[must_use]
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("tonewatch").join("control.sock"))
}

/// An id or reference as the socket takes them: 1–128 visible ASCII
/// characters (no spaces or quotes), so it is safe in a subject, a file
/// name and a log line.
fn check_id(key: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > MAX_ID {
        return Err(format!("{key}: 1 to {MAX_ID} characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\' | '/'))
    {
        return Err(format!(
            "{key}: {c:?} is not allowed (letters, digits and punctuation such as - _ . : only)"
        ));
    }
    Ok(())
}

/// The checked marker a request stands for.
///
/// # Errors
/// A bad id or reference, with why.
pub fn command_of(req: Request) -> Result<CallCommand, String> {
    match req {
        Request::Start {
            call_id,
            customer_ref,
        } => {
            if let Some(id) = &call_id {
                check_id("call_id", id)?;
            }
            if let Some(r) = &customer_ref {
                check_id("customer_ref", r)?;
            }
            Ok(CallCommand::Start {
                call_id: call_id.unwrap_or_else(crate::replay::new_call_id),
                customer_ref,
                by: CallSource::Control,
            })
        }
        Request::End {} => Ok(CallCommand::End {
            by: CallSource::Control,
        }),
    }
}

/// The listening socket; closed and removed when dropped.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The uid of the process at the other end of `s`.
fn peer_uid(s: &UnixStream) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(s)?.uid.as_raw())
}

/// This process's effective uid.
fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl ControlServer {
    /// Listens on `path`, passing each accepted marker to `markers`.
    ///
    /// # Errors
    /// Another process answers on `path`, or the folder or socket cannot be
    /// made.
    pub fn start(path: &Path, markers: Sender<CallCommand>) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{}: another tonewatch live is listening there (give --control-socket PATH for a second one)",
                        path.display()
                    ),
                ));
            }
            // Left by a process that is gone.
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name("tonewatch-control".into())
                .spawn(move || serve(&listener, &markers, &stop))?
        };
        Ok(Self {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: &UnixListener, markers: &Sender<CallCommand>, stop: &AtomicBool) {
    let me = my_uid();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, me, markers) {
                    tracing::debug!("control socket: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                tracing::warn!("control socket: {e}");
                thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// One connection: one request, one reply.
fn answer(stream: UnixStream, me: u32, markers: &Sender<CallCommand>) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let reply = match peer_uid(&stream) {
        Ok(uid) if uid == me => {
            let mut line = String::new();
            BufReader::new(io::Read::take(&stream, MAX_LINE)).read_line(&mut line)?;
            match serde_json::from_str::<Request>(line.trim()) {
                Ok(req) => match command_of(req) {
                    Ok(cmd) => {
                        let call_id = match &cmd {
                            CallCommand::Start { call_id, .. } => Some(call_id.clone()),
                            CallCommand::End { .. } => None,
                        };
                        tracing::info!(?cmd, "control socket");
                        if markers.send(cmd).is_ok() {
                            Reply {
                                ok: true,
                                call_id,
                                error: None,
                            }
                        } else {
                            Reply::refused("tonewatch is stopping")
                        }
                    }
                    Err(why) => Reply::refused(why),
                },
                Err(e) => Reply::refused(format!(
                    "not a request ({e}); send {{\"call\":\"start\"}} or {{\"call\":\"end\"}}"
                )),
            }
        }
        Ok(uid) => {
            tracing::warn!(
                uid,
                "control socket: refused a connection from another user"
            );
            Reply::refused("this tonewatch answers only its own user")
        }
        Err(e) => Reply::refused(format!("cannot tell who is asking: {e}")),
    };
    let mut text = serde_json::to_string(&reply).map_err(io::Error::other)?;
    text.push('\n');
    writer.write_all(text.as_bytes())
}

/// Sends `req` to the daemon at `path` and returns its reply.
///
/// # Errors
/// Nobody listens there, the socket is not ours to use, or the reply is
/// not one.
pub fn send(path: &Path, req: &Request) -> io::Result<Reply> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                "no tonewatch live is listening there".to_string()
            }
            io::ErrorKind::PermissionDenied => {
                "permission denied (the socket belongs to another user)".to_string()
            }
            _ => e.to_string(),
        };
        io::Error::new(e.kind(), format!("{}: {why}", path.display()))
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = serde_json::to_string(req).map_err(io::Error::other)?;
    text.push('\n');
    stream.write_all(text.as_bytes())?;
    let mut line = String::new();
    BufReader::new(io::Read::take(&stream, MAX_LINE)).read_line(&mut line)?;
    serde_json::from_str(line.trim()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a tonewatch reply ({e})", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let r: Request =
            serde_json::from_str(r#"{"call":"start","call_id":"A-1","customer_ref":"C-7"}"#)
                .unwrap();
        assert_eq!(
            r,
            Request::Start {
                call_id: Some("A-1".into()),
                customer_ref: Some("C-7".into())
            }
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"call":"end"}"#).unwrap(),
            Request::End {}
        );
        assert!(serde_json::from_str::<Request>(r#"{"call":"pause"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"call":"end","x":1}"#).is_err());
    }

    #[test]
    fn ids_are_checked_and_made_when_missing() {
        let start = |id: &str| {
            command_of(Request::Start {
                call_id: Some(id.into()),
                customer_ref: None,
            })
        };
        assert!(start("A-1029:x.y_z").is_ok());
        for bad in ["", "a b", "a/b", "a\"b", "é", &"x".repeat(129)] {
            assert!(start(bad).is_err(), "{bad:?}");
        }
        let Ok(CallCommand::Start { call_id, .. }) = command_of(Request::Start {
            call_id: None,
            customer_ref: None,
        }) else {
            panic!("a start");
        };
        let id = uuid::Uuid::parse_str(&call_id).unwrap();
        assert_eq!(id.get_version_num(), 7);
    }
}
