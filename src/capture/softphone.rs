//! Calls from the softphone's own audio stream: while a playback stream of
//! the named application exists on the PulseAudio (or PipeWire-pulse)
//! server, a call is on (`live --call-app NAME`).
//!
//! The server tells its clients of every playback stream (sink input) that
//! appears, changes or goes (`pa_context_subscribe`); nothing is polled. A
//! new stream's properties are read once: it is the softphone's when its
//! `application.name` or `application.process.binary` equals the name
//! given (without regard to case). The first such stream starts a call,
//! the last one to go ends it; streams already playing when tonewatch
//! starts count as appearing then.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use libpulse_binding as pa;
use pa::callbacks::ListResult;
use pa::context::State as ContextState;
use pa::context::introspect::SinkInputInfo;
use pa::context::subscribe::{Facility, InterestMaskSet, Operation};
use tonewatch_core::calls::{CallCommand, CallSource};

use super::pulse::{CONNECT_WAIT, STOP_POLL, connect_context, iterate, wait};

/// First wait before watching again after the server went away, doubled
/// up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(500);
/// See [`RECONNECT_FIRST`].
const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// Removed streams remembered, to ignore their late properties.
const GONE_KEPT: usize = 64;

/// Whether a stream with these properties is the softphone's.
fn is_app(info: &SinkInputInfo<'_>, app: &str) -> bool {
    ["application.name", "application.process.binary"]
        .iter()
        .filter_map(|k| info.proplist.get_str(k))
        .any(|v| v.eq_ignore_ascii_case(app))
}

/// What the server said, gathered on the watcher's thread.
#[derive(Default)]
struct Seen {
    /// Sink inputs to look at (new, or there at the start).
    to_check: Vec<u32>,
    /// Sink inputs that went.
    removed: Vec<u32>,
    /// Sink inputs found to be the softphone's.
    found: Vec<u32>,
}

/// Watches the server for the softphone's streams until dropped.
#[derive(Debug)]
pub struct SoftphoneWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SoftphoneWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl SoftphoneWatch {
    /// Connects to the server named by the environment and watches for
    /// `app`'s playback streams: a call starts (a fresh id from `new_id`)
    /// when the first appears and ends when the last goes, as markers on
    /// `markers`. Returns once watching.
    ///
    /// # Errors
    /// No PulseAudio server, or it refuses the subscription.
    pub fn start(
        app: &str,
        markers: Sender<CallCommand>,
        new_id: fn() -> String,
    ) -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let flag = Arc::clone(&stop);
        let app = app.to_string();
        let thread = thread::Builder::new()
            .name("tonewatch-softphone".into())
            .spawn(move || {
                let mut playing = BTreeSet::new();
                let mut ready = Some(ready_tx);
                let mut backoff = RECONNECT_FIRST;
                while !flag.load(Ordering::Relaxed) {
                    let Err(e) = watch(&app, &markers, new_id, &flag, &mut ready, &mut playing)
                    else {
                        return;
                    };
                    // Said at start-up when it fails then.
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    // Later (a sound server restarted): the softphone's
                    // streams went with it, so its call ends; watched
                    // again once the server is back.
                    if !playing.is_empty() {
                        playing.clear();
                        tracing::info!("softphone streams gone with the server: call ended");
                        let _ = markers.send(CallCommand::End {
                            by: CallSource::Softphone,
                        });
                    }
                    tracing::warn!("softphone watch: {e}; reconnecting in {backoff:?}");
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                        thread::sleep(STOP_POLL);
                    }
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let watch = Self {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(watch),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the softphone watch ended before it started".into()),
        }
    }
}

/// Watches until `stop` (`Ok`) or the server goes (`Err`). Says it is
/// watching on `ready` the first time; `playing` (the softphone's streams
/// now) outlives a reconnection.
fn watch(
    app: &str,
    markers: &Sender<CallCommand>,
    new_id: fn() -> String,
    stop: &AtomicBool,
    ready: &mut Option<mpsc::SyncSender<Result<(), String>>>,
    playing: &mut BTreeSet<u32>,
) -> Result<(), String> {
    let deadline = Instant::now() + CONNECT_WAIT;
    let (mut mainloop, mut context) = connect_context("tonewatch softphone watch", deadline)?;
    let seen = Rc::new(RefCell::new(Seen::default()));
    {
        let seen = Rc::clone(&seen);
        context.set_subscribe_callback(Some(Box::new(move |facility, op, index| {
            if facility != Some(Facility::SinkInput) {
                return;
            }
            let mut s = seen.borrow_mut();
            match op {
                Some(Operation::New) => s.to_check.push(index),
                Some(Operation::Removed) => s.removed.push(index),
                _ => {}
            }
        })));
    }
    let subscribed = Rc::new(RefCell::new(None));
    {
        let subscribed = Rc::clone(&subscribed);
        context.subscribe(InterestMaskSet::SINK_INPUT, move |ok| {
            *subscribed.borrow_mut() = Some(ok);
        });
    }
    // Streams playing already.
    let listed = Rc::new(RefCell::new(false));
    {
        let (seen, listed) = (Rc::clone(&seen), Rc::clone(&listed));
        let app = app.to_string();
        context
            .introspect()
            .get_sink_input_info_list(move |r| match r {
                ListResult::Item(info) if is_app(info, &app) => {
                    seen.borrow_mut().found.push(info.index);
                }
                ListResult::End | ListResult::Error => *listed.borrow_mut() = true,
                ListResult::Item(_) => {}
            });
    }
    wait(&mut mainloop, deadline, || match *subscribed.borrow() {
        Some(true) => Ok(*listed.borrow()),
        Some(false) => Err("the PulseAudio server refused to report its streams".into()),
        None => Ok(false),
    })?;
    if let Some(tx) = ready.take() {
        let _ = tx.send(Ok(()));
    } else {
        tracing::info!("softphone watch: back on the sound server");
    }
    // Streams that went before they were known (indices are not reused
    // soon: the last few are enough).
    let mut gone: VecDeque<u32> = VecDeque::with_capacity(GONE_KEPT);
    while !stop.load(Ordering::Relaxed) {
        iterate(&mut mainloop, STOP_POLL)?;
        if matches!(
            context.get_state(),
            ContextState::Failed | ContextState::Terminated
        ) {
            return Err(format!(
                "the PulseAudio server went away: {}",
                context.errno()
            ));
        }
        let (to_check, removed, found) = {
            let mut s = seen.borrow_mut();
            (
                std::mem::take(&mut s.to_check),
                std::mem::take(&mut s.removed),
                std::mem::take(&mut s.found),
            )
        };
        for index in to_check {
            let (seen, app) = (Rc::clone(&seen), app.to_string());
            context.introspect().get_sink_input_info(index, move |r| {
                if let ListResult::Item(info) = r
                    && is_app(info, &app)
                {
                    seen.borrow_mut().found.push(info.index);
                }
            });
        }
        // Removals first: a stream gone before its properties came back
        // is not a call.
        for index in removed {
            if playing.remove(&index) {
                if playing.is_empty() {
                    tracing::info!(stream = index, "softphone stream gone: call ended");
                    let _ = markers.send(CallCommand::End {
                        by: CallSource::Softphone,
                    });
                }
            } else {
                if gone.len() == GONE_KEPT {
                    gone.pop_front();
                }
                gone.push_back(index);
            }
        }
        for index in found {
            if gone.contains(&index) || !playing.insert(index) {
                continue;
            }
            if playing.len() == 1 {
                let call_id = new_id();
                tracing::info!(stream = index, %call_id, "softphone stream: call started");
                let _ = markers.send(CallCommand::Start {
                    call_id,
                    customer_ref: None,
                    by: CallSource::Softphone,
                });
            }
        }
    }
    Ok(())
}
