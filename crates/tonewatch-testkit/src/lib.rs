//! Test tooling for tonewatch, used by its tests, benches and fixture
//! scripts only (never shipped in the daemon):
//!
//! - [`synth`]: speech-like voices with exact truth (F0 contour, syllable
//!   times, talking intervals), telephone band-pass and noise;
//! - [`g711`]: μ-law and A-law encoders;
//! - [`wav`]: WAV writers (16-bit PCM and G.711);
//! - [`pulse`]: a private PulseAudio server with two null sinks, for live
//!   capture tests without a sound card.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod g711;
pub mod pulse;
pub mod synth;
pub mod wav;
