//! The tonewatch daemon around [`tonewatch_core`]: where audio comes from
//! (WAV files, audio devices), where results go (stdout, the coaching
//! report, the supervisor feed, NATS, desktop nudges), and the threads that
//! connect them. The analysis itself lives in `tonewatch-core`, which does
//! no I/O; replay and live capture drive the same core path, so the same
//! audio gives the same alerts.
//!
//! # Threads and the two lock-free boundaries (`tonewatch live`)
//!
//! ```text
//!  device thread (one per party)          analysis thread                output thread
//!  ─────────────────────────────          ───────────────                ─────────────
//!  PulseAudio main loop / cpal callback
//!    capture::callback::CaptureWriter
//!    convert, route, push ──► rtrb ring ══╪══► PartyIn::feed (SPSC,       stdout writer
//!    (never allocates, locks or blocks)   │     lock-free) ─► Lockstep    (JSON Lines)
//!                                         │     ─► Calls ─► Record ══╪══►     ▲
//!                                         │        │ try_send (bounded  │      │
//!                                         │        │ crossbeam channel) │      │
//!                                         │        └► feed / NATS / nudges (non-blocking
//!                                         │           queues of their own threads)
//! ```
//!
//! Boundary 1 is each party's `rtrb` single-producer ring between the
//! device thread and the analysis thread; boundary 2 is the bounded
//! crossbeam channel from the analysis thread to the output thread (and
//! the publishers' own bounded queues). Nothing on the device side of
//! boundary 1, and nothing in `Lockstep` and `Calls` (a `Monitor` per call)
//! allocates, locks or blocks between call boundaries (`tests/no_alloc.rs`).
//! Device (re)opening, the control socket and the softphone watch run on
//! threads of their own; replay and batch run the same `Lockstep` → `Calls`
//! path on one thread per recording.
//!
//! | module | what |
//! |---|---|
//! | [`input`] | WAV reading and G.711 decoding |
//! | [`capture`] | devices: listing, PulseAudio (libpulse) and cpal streams, the real-time callback body |
//! | [`live`] | `tonewatch live`: capture threads → analysis thread → output |
//! | [`replay`], [`batch`] | recorded calls, one or a folder in parallel |
//! | [`serve`] | calls from the phone system (AudioHook, media streams) on a worker pool |
//! | [`output`] | JSON Lines, the coaching report |
//! | [`publish`] | supervisor feed, NATS, desktop nudges |
//! | [`config`], [`profile`] | the config file and agent profiles |
//! | [`service`] | systemd readiness, watchdog and reload notices |

#![forbid(unsafe_code)]

pub mod batch;
#[cfg(feature = "desktop")]
pub mod capture;
pub mod config;
#[cfg(feature = "desktop")]
pub mod control;
pub mod input;
#[cfg(feature = "desktop")]
pub mod live;
pub mod output;
pub mod profile;
pub mod publish;
pub mod replay;
pub mod serve;
pub mod service;

pub use config::Config;
pub use tonewatch_core as core;
