//! The per-frame analysis shared by replay and live capture: pitch, loudness,
//! speech and speaking rate for each party, frame by frame, in lockstep.
//!
//! Each frame is measured in steps. First every channel's levels are
//! measured. Then the decisions that need both parties are taken: a frame
//! is speech only if it is not the other party's bleed, and only speech
//! frames are searched for pitch and count towards the speaking rate.
//! Bleed is judged on level first; a frame level cannot settle (a quiet
//! voice far under a louder other, yet well above that other's echo) is
//! settled by pitch: it is this party's own voice when its pitch goes on
//! from theirs (within 3 semitones of their clear pitch of the last
//! 300 ms) and is unlike the other's over the last 100 ms (echo comes back
//! late), an octave off included. A party talked over keeps their quiet
//! syllables; the other's echo, however a line's AGC lifts it, carries the
//! other's pitch and stays bleed.
//!
//! Real-time safety: [`CallAnalyzer::new`] allocates; [`CallAnalyzer::process`]
//! never allocates, locks or blocks (proved by `tests/no_alloc.rs`).

use serde::{Deserialize, Serialize};

use crate::pitch::{PITCH_LOOKAHEAD_FRAMES, PitchEstimate, PitchEstimator, PitchTracker};
use crate::rate::RateTracker;
use crate::settings::{FrameGeometry, Settings};
use crate::speech::{CROSSTALK_FRAMES, SpeechDetector};
use crate::units::{SILENCE_DB, hz_to_st, mean_square_to_db};

/// A frame whose NSDF clarity reaches this is voiced (if it is speech).
pub const VOICED_CLARITY: f32 = 0.6;
/// Most channels in one call.
pub const MAX_CHANNELS: usize = 2;

/// Who is talking on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The contact-centre agent (their microphone).
    Agent,
    /// The caller (the line's far end).
    Customer,
}

impl Speaker {
    /// Lower-case name as used in JSON and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Customer => "customer",
        }
    }
}

/// What one frame of one channel says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameFeatures {
    /// Fundamental frequency, on voiced speech frames only, and not on
    /// those 18 dB or more under the party's own speech level.
    pub f0_hz: Option<f32>,
    /// Periodicity of the frame in [0, 1] (NSDF clarity of the chosen
    /// period): how sure the frame is voiced. 0 on frames without speech:
    /// they are not searched for a period.
    pub voiced_p: f32,
    /// RMS level of the analysis-band signal in dB relative to a full-scale
    /// sine (dBFS as in AES17: a ±1.0 sine reads 0 dB, ±1.0 square +3 dB).
    pub loudness_db: f32,
    /// This party is talking (above their noise floor, not the other's bleed).
    pub speech: bool,
    /// Frames of talking this frame credits (itself, and a short gap between
    /// syllables it closed): the time speaking rate is measured against.
    pub talk_frames: u32,
    /// Syllables per second of speech over the rate window.
    pub rate_sps: Option<f32>,
    /// How fast the vowel-band level moves over the same window (dB/s).
    pub modulation_db_s: Option<f32>,
    /// Level of the vowel band (300–2500 Hz), same reference as loudness.
    pub vowel_band_db: f32,
    /// A syllable nucleus was confirmed on this frame.
    pub nucleus: bool,
    /// Vocal effort on voiced speech frames: the level above 1 kHz against
    /// the level below, in dB (see [`crate::pitch::EFFORT_SPLIT_HZ`]).
    pub effort_db: Option<f32>,
    /// The line's noise floor as last heard in a pause of this party's (dB
    /// as `loudness_db`): a gain step or AGC moves it with the voice, a
    /// voice raised by its speaker does not.
    pub floor_db: f32,
}

/// A frame this far under the party's own speech level (dB) gives out no
/// pitch: the decaying ends of voiced stretches, where a pitch search
/// still finds a period but one a listener (and Praat) would not call
/// voiced, most of them above the speaker's usual pitch. Left in, they
/// widened a speaker's measured pitch wandering (nEMO MP0: 0.99 st
/// against Praat's 0.43) and with it the bar a drift must clear.
const WEAK_PITCH_DB: f32 = 18.0;

/// On a line that cuts the fundamental away, a pitch this far above the
/// speaker's register (octaves) is given out as none: the second harmonic
/// taken for the period, which the tracker's register cost makes rarer but
/// not rare when the voice itself rises toward the 300 Hz the line cuts (a
/// 210 Hz reader rising 3.6 semitones read 17 % of a 10-s window's frames
/// an octave up, and her median 1.5 semitones higher than on the clean
/// track). Real pitch in calm speech or a drift sits within half an octave
/// of the register; an octave error an octave over it. Chosen on the tune
/// half (`line_pitch.py`, `real_drift.py --line ulaw`): at 0.75 octave
/// frames an octave off the clean track's 1.5 → 1.2 %, none of eleven
/// readers worse; at 0.58 (7 semitones) 1.0 %, but the alerts it moved
/// included a new false one.
const OVER_REGISTER_OCT: f32 = 0.75;

/// The first of a voice's hangover frames, this long after its level fell
/// (s), stay speech whatever follows: a soft tail. Later ones are speech
/// only if talk follows within the look-ahead (see [`Channel::release`]).
/// Chosen on the tune half of `benches/eval/vad.py`: with none kept, speech
/// recall on the clean line 98.2 → 97.1 % (false alarms 33.1 → 20.4 %); 30 ms
/// 97.6 / 23.5 %; 60 ms 97.9 / 26.7 %.
const TAIL_KEEP_S: f64 = 0.06;

/// Frames held back while the pitch path looks ahead.
const DELAY_RING: usize = PITCH_LOOKAHEAD_FRAMES + 1;

struct Channel {
    pitch: PitchEstimator,
    path: PitchTracker,
    /// Measured frames waiting for their pitch decision, and whether each
    /// is too weak for its pitch to be given out (see [`WEAK_PITCH_DB`]).
    held: [FrameFeatures; DELAY_RING],
    weak: [bool; DELAY_RING],
    /// Whether each held frame is speech only through the hangover, with
    /// no pitch: the tail after a voice, unless talk follows it.
    tail: [bool; DELAY_RING],
    /// Whether each held frame is a line's tone (see
    /// [`SpeechDetector::steady_tone`]): no talk, no pitch.
    tone: [bool; DELAY_RING],
    /// The latest frame that was talk on its own level (not hangover).
    last_talk_frame: Option<u64>,
    /// [`TAIL_KEEP_S`] in frames.
    tail_keep_frames: u64,
    speech: SpeechDetector,
    rate: RateTracker,
    recent_db: [f32; CROSSTALK_FRAMES],
    /// This party's clear pitch over the last [`ECHO_PITCH_FRAMES`], in
    /// semitones (NaN: none): what bleed of their voice into the other
    /// channel carries.
    heard_st: [f32; ECHO_PITCH_FRAMES],
    /// This party's latest own clear pitch (semitones) and the frame it
    /// was in: a contested frame continuing it is theirs.
    own_st: f32,
    own_frame: u64,
}

/// Analyses the frames of a call with one or two parties.
pub struct CallAnalyzer {
    geom: FrameGeometry,
    channels: Vec<Channel>,
    /// Frames measured.
    frame: u64,
    /// Frames given out (`frame` minus those held back).
    emitted: u64,
}

impl std::fmt::Debug for CallAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallAnalyzer")
            .field("geom", &self.geom)
            .field("channels", &self.channels.len())
            .field("frame", &self.frame)
            .field("emitted", &self.emitted)
            .finish()
    }
}

impl CallAnalyzer {
    /// An analyser for `channels` parties (1 or 2).
    ///
    /// # Panics
    /// If `channels` is not 1 or 2.
    #[must_use]
    pub fn new(settings: &Settings, channels: usize) -> Self {
        assert!(
            (1..=MAX_CHANNELS).contains(&channels),
            "a call has one or two channels"
        );
        let cfg = settings.analysis();
        let geom = *settings.geometry();
        let channels = (0..channels)
            .map(|_| Channel {
                pitch: PitchEstimator::new(geom),
                path: PitchTracker::new(),
                held: [FrameFeatures::default(); DELAY_RING],
                weak: [false; DELAY_RING],
                tail: [false; DELAY_RING],
                tone: [false; DELAY_RING],
                last_talk_frame: None,
                tail_keep_frames: (TAIL_KEEP_S / geom.hop_s()).round() as u64,
                speech: SpeechDetector::new(cfg, &geom),
                rate: RateTracker::new(cfg, &geom),
                recent_db: [SILENCE_DB; CROSSTALK_FRAMES],
                heard_st: [f32::NAN; ECHO_PITCH_FRAMES],
                own_st: f32::NAN,
                own_frame: 0,
            })
            .collect();
        Self {
            geom,
            channels,
            frame: 0,
            emitted: 0,
        }
    }

    /// The fixed sizes this analyser runs on.
    #[must_use]
    pub fn geometry(&self) -> &FrameGeometry {
        &self.geom
    }

    /// Number of channels.
    #[must_use]
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Analyses one frame: `windows[c]` is channel `c`'s window of
    /// `window_samples`. Once the pitch path's look-ahead
    /// ([`PITCH_LOOKAHEAD_FRAMES`], 60 ms at the default hop) is filled,
    /// each call gives out the frame that many back: its features in
    /// `out[c]` and its time as the result. Real-time safe: no allocation.
    ///
    /// # Panics
    /// If the slice counts differ from the channel count.
    pub fn process(&mut self, windows: &[&[f32]], out: &mut [FrameFeatures]) -> Option<f64> {
        assert_eq!(windows.len(), self.channels.len());
        assert_eq!(out.len(), self.channels.len());
        let frame = self.frame;
        let slot = (frame % CROSSTALK_FRAMES as u64) as usize;
        self.frame += 1;

        // Levels first: whether a party talks needs both parties' levels,
        // and only talk is searched for pitch (the search is most of the
        // cost, and half a call's frames or more are nobody's talk).
        let mut estimates = [None; MAX_CHANNELS];
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let levels = ch.pitch.measure(windows[c]);
            let loudness_db = mean_square_to_db(levels.mean_square);
            ch.recent_db[slot] = loudness_db;
            estimates[c] = Some((levels, loudness_db));
        }
        let loudest_recent: [f32; MAX_CHANNELS] = std::array::from_fn(|c| {
            self.channels.get(c).map_or(SILENCE_DB, |ch| {
                ch.recent_db.iter().fold(SILENCE_DB, |a, &b| a.max(b))
            })
        });

        let n = self.channels.len();
        let echo_slot = (frame % ECHO_PITCH_FRAMES as u64) as usize;
        // Speech on level, and the pitch of talk and of contested bleed
        // (a quiet voice under a louder other, which level cannot tell
        // from that other's echo).
        let mut searched: [Option<(bool, PitchEstimate)>; MAX_CHANNELS] = [None; MAX_CHANNELS];
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let (levels, loudness_db) = estimates[c].expect("measured above");
            let other_db = (n == 2).then(|| loudest_recent[1 - c]);
            let speech = ch.speech.update(loudness_db, other_db);
            let p = if speech || ch.speech.bleed_contested() {
                ch.pitch.search(&levels)
            } else {
                PitchEstimate::unsearched(&levels)
            };
            ch.heard_st[echo_slot] = clear_st(&p);
            searched[c] = Some((speech, p));
        }
        let heard_st: [[f32; ECHO_PITCH_FRAMES]; MAX_CHANNELS] = std::array::from_fn(|c| {
            self.channels
                .get(c)
                .map_or([f32::NAN; ECHO_PITCH_FRAMES], |ch| ch.heard_st)
        });

        let mut ready = true;
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let (levels, loudness_db) = estimates[c].expect("measured above");
            let (mut speech, mut p) = searched[c].expect("searched above");
            let st = ch.heard_st[echo_slot];
            if ch.speech.bleed_contested() {
                let continues = frame - ch.own_frame <= OWN_CONTOUR_FRAMES
                    && (st - ch.own_st).abs() <= OWN_CONTOUR_ST;
                if n == 2 && continues && unlike(st, &heard_st[1 - c]) {
                    speech = ch.speech.own_voice_after_all();
                    (ch.own_st, ch.own_frame) = (st, frame);
                } else {
                    // Bleed (speech only while a hangover runs on): as if
                    // never searched, since its pitch is the other's.
                    p = PitchEstimate::unsearched(&levels);
                    ch.heard_st[echo_slot] = f32::NAN;
                }
            } else if speech && !ch.speech.in_hangover() && !st.is_nan() {
                (ch.own_st, ch.own_frame) = (st, frame);
            }
            let pitched = p.clarity >= VOICED_CLARITY && p.f0_hz.is_some();
            let bed = ch.speech.steady_bed(pitched);
            let tone = ch
                .speech
                .steady_tone(loudness_db, p.f0_hz.filter(|_| pitched).map(hz_to_st));
            let slot = (frame % DELAY_RING as u64) as usize;
            ch.tone[slot] = false;
            if let Some(run) = tone {
                // The run's frames not yet given out are the tone too.
                let from = frame.saturating_sub(u64::from(run) - 1).max(self.emitted);
                for f in from..=frame {
                    ch.tone[(f % DELAY_RING as u64) as usize] = true;
                }
            }
            if bed || tone.is_some() {
                // A noise bed or a line's tone, not a voice (see `speech`).
                speech = false;
                p = PitchEstimate::unsearched(&levels);
                ch.heard_st[echo_slot] = f32::NAN;
            }
            let voiced = speech && pitched;
            let vowel_band_db = mean_square_to_db(p.vowel_band_mean_square);
            // Speaking rate is per second of talking: the rate tracker
            // bridges short gaps itself, so the hangover is left out.
            let talking = speech && !ch.speech.in_hangover();
            let r = ch.rate.update(vowel_band_db, voiced, talking);
            ch.tail[slot] = speech && !talking && !voiced;
            if talking {
                ch.last_talk_frame = Some(frame);
            }
            ch.weak[slot] = ch
                .speech
                .own_level_db()
                .is_some_and(|own| loudness_db < own - WEAK_PITCH_DB);
            ch.held[slot] = FrameFeatures {
                f0_hz: None,
                voiced_p: p.clarity.clamp(0.0, 1.0),
                loudness_db,
                speech,
                talk_frames: r.talk_frames,
                rate_sps: r.rate_sps,
                modulation_db_s: r.modulation_db_s,
                vowel_band_db,
                nucleus: r.nucleus,
                effort_db: p.effort_db.filter(|_| voiced),
                floor_db: ch.speech.line_floor_db(),
            };
            match ch.path.push(&p.candidates, voiced) {
                Some(f0_hz) => out[c] = ch.release(self.emitted, f0_hz),
                None => ready = false,
            }
        }
        ready.then(|| self.advance_emitted())
    }

    /// After the last [`process`](Self::process): gives out the next held
    /// frame, deciding its pitch with the frames there are; `None` once all
    /// are out.
    pub fn flush(&mut self, out: &mut [FrameFeatures]) -> Option<f64> {
        assert_eq!(out.len(), self.channels.len());
        if self.emitted == self.frame {
            return None;
        }
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let f0_hz = ch.path.flush().expect("a held frame has no decision yet");
            out[c] = ch.release(self.emitted, f0_hz);
        }
        Some(self.advance_emitted())
    }

    fn advance_emitted(&mut self) -> f64 {
        let t = self.emitted as f64 * self.geom.hop_s();
        self.emitted += 1;
        t
    }
}

/// Bleed of the other party carries their pitch (or, read an octave off,
/// its double or half); a voice of this party's own under it, its own.
const SAME_PITCH_ST: f32 = 1.5;
/// The other party's pitches a contested frame is held against: 100 ms of
/// them, since a line's echo comes back tens of milliseconds late.
const ECHO_PITCH_FRAMES: usize = 10;
/// A contested frame is this party's own voice only if it continues their
/// own pitch contour: within this many semitones of their latest clear
/// pitch ...
const OWN_CONTOUR_ST: f32 = 3.0;
/// ... seen at most this many frames before (300 ms): a quiet stretch of
/// a voice talked over, not a pitch out of nowhere on the line.
const OWN_CONTOUR_FRAMES: u64 = 30;

/// A frame's pitch in semitones when it is clearly periodic; NaN if not.
fn clear_st(p: &PitchEstimate) -> f32 {
    match p.f0_hz {
        Some(f0) if p.clarity >= VOICED_CLARITY => hz_to_st(f0),
        _ => f32::NAN,
    }
}

/// Whether the clear pitch `st` (NaN: none) is unlike every one of the
/// other party's clear pitches `other` (NaN: none), within
/// [`SAME_PITCH_ST`] neither of them nor an octave from them; false
/// without a pitch on both sides (nothing is told then).
fn unlike(st: f32, other: &[f32]) -> bool {
    if st.is_nan() || other.iter().all(|o| o.is_nan()) {
        return false;
    }
    other.iter().filter(|o| !o.is_nan()).all(|&o| {
        let d = (st - o).abs();
        d.min((d - 12.0).abs()) > SAME_PITCH_ST
    })
}

impl Channel {
    /// The held frame `frame` with its pitch decided.
    ///
    /// A hangover frame with no pitch more than [`TAIL_KEEP_S`] after the
    /// voice's level fell is speech only if talk follows it within the
    /// frames measured since (the pitch path's look-ahead): the hangover
    /// bridges a stop closure or a breath between words, and at the end of
    /// a phrase, where nothing follows, it is the line's silence. Deciding
    /// that here costs no latency: the frame waits for its pitch anyway.
    /// Its pitch is given out unless the frame is weak ([`WEAK_PITCH_DB`])
    /// or, on a line without the fundamental, an octave error
    /// ([`OVER_REGISTER_OCT`]).
    fn release(&self, frame: u64, f0_hz: Option<f32>) -> FrameFeatures {
        let at = (frame % DELAY_RING as u64) as usize;
        let held = self.held[at];
        let trailing = self.tail[at]
            && self
                .last_talk_frame
                .is_none_or(|t| t < frame && frame - t > self.tail_keep_frames);
        let over_register = |f: f32| {
            self.pitch.line_cuts_fundamental()
                && self
                    .path
                    .register_hz()
                    .is_some_and(|r| (f / r).log2() > OVER_REGISTER_OCT)
        };
        let tone = self.tone[at];
        FrameFeatures {
            f0_hz: f0_hz.filter(|&f| !tone && !self.weak[at] && !over_register(f)),
            speech: held.speech && !trailing && !tone,
            ..held
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{ChannelInput, Lockstep};

    const RATE: usize = 8000;
    /// Frames per second.
    const FPS: usize = 100;

    /// `secs` of a voiced sound at `f0` Hz (four harmonics) whose level
    /// is `db` (re a full-scale sine, as frames report it); `syllables`:
    /// 0.5 s on, 0.5 s off, pauses long enough for the noise floor to show.
    fn voice(f0: f32, db: f32, secs: f32, syllables: bool) -> Vec<f32> {
        let n = (secs * RATE as f32) as usize;
        let amp = 10f32.powf((db - 3.01) / 20.0);
        // RMS of the four harmonics of amplitude 1/h: sqrt(sum 1/(2h²)).
        let rms = (1..=4).map(|h| 0.5 / (h * h) as f32).sum::<f32>().sqrt();
        let mut phase = 0.0f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                phase = (phase + wobbling(f0, t) / RATE as f32).fract();
                if syllables && t % 1.0 >= 0.5 {
                    return 0.0;
                }
                amp / rms
                    * (1..=4)
                        .map(|h| (std::f32::consts::TAU * phase * h as f32).sin() / h as f32)
                        .sum::<f32>()
            })
            .collect()
    }

    /// `f0` at `t` s with a voice's wobble, ±0.2 semitone at 4 Hz: no
    /// voice holds its pitch as still as a line's tone
    /// ([`crate::speech::TONE_S`]).
    fn wobbling(f0: f32, t: f32) -> f32 {
        f0 * (0.2 / 12.0 * (std::f32::consts::TAU * 4.0 * t).sin()).exp2()
    }

    /// `x` with a consonant every 0.4 s: 100 ms 30 dB down. A voice
    /// does not hold one level for seconds on end (a sound that does is
    /// music: see [`crate::speech::CONTINUOUS_S`]).
    fn closures(x: &[f32]) -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(i, v)| {
                if i % (RATE * 2 / 5) < RATE / 10 {
                    0.03 * v
                } else {
                    *v
                }
            })
            .collect()
    }

    fn silence(secs: f32) -> Vec<f32> {
        vec![0.0; (secs * RATE as f32) as usize]
    }

    /// `x` times `db` of gain.
    fn gain(x: &[f32], db: f32) -> Vec<f32> {
        x.iter().map(|v| v * 10f32.powf(db / 20.0)).collect()
    }

    /// Both parties' frames of a two-channel call; a faint noise (-75 dB)
    /// on both lines.
    fn analyse(agent: &[f32], customer: &[f32]) -> [Vec<FrameFeatures>; 2] {
        let settings = Settings::default();
        let mut noise = tonewatch_testkit::synth::Noise::new(3);
        let mut line = |x: &[f32]| -> Vec<f32> {
            x.iter()
                .map(|v| v + 0.000_25 * noise.gaussian() as f32)
                .collect()
        };
        let (agent, customer) = (line(agent), line(customer));
        let inputs = (0..2)
            .map(|_| ChannelInput::new(RATE as u32, settings.geometry()).unwrap())
            .collect();
        let mut call = Lockstep::new(CallAnalyzer::new(&settings, 2), inputs);
        let mut got = [Vec::new(), Vec::new()];
        let mut keep = |_t: f64, frames: &[FrameFeatures]| {
            got[0].push(frames[0]);
            got[1].push(frames[1]);
            Ok::<_, ()>(())
        };
        let (mut a, mut c) = (&agent[..], &customer[..]);
        while !a.is_empty() || !c.is_empty() {
            let took = call.inputs_mut()[0].push(a);
            a = &a[took..];
            let took = call.inputs_mut()[1].push(c);
            c = &c[took..];
            call.drain(&mut keep).unwrap();
        }
        for i in call.inputs_mut() {
            i.finish();
        }
        call.drain(&mut keep).unwrap();
        call.flush(&mut keep).unwrap();
        got
    }

    /// The share of the frames from `from_s` to `to_s` inside the
    /// syllables of a `voice` started at 0 (their first and last 30 ms
    /// left out) that are speech.
    fn share_in_syllables(speech: &[bool], from_s: f32, to_s: f32) -> f32 {
        let frames: Vec<bool> = (((from_s * FPS as f32) as usize)..((to_s * FPS as f32) as usize))
            .filter(|&k| (0.03..0.47).contains(&(k as f32 / FPS as f32 % 1.0)))
            .map(|k| speech[k])
            .collect();
        frames.iter().filter(|&&s| s).count() as f32 / frames.len() as f32
    }

    /// The customer (`f0` Hz, -20 dB) talks 3 s; the agent (130 Hz, -16 dB,
    /// one long phrase) 4 s, their echo at -30 dB on the customer's line;
    /// the customer talks again from 7.5 s and, at 8 s, the agent talks
    /// over them for 2 s while the customer's line carries the echo and
    /// `under`. Returns both parties' frames.
    fn talked_over(f0: f32, under: &[f32]) -> [Vec<FrameFeatures>; 2] {
        let agent_part = |secs| closures(&voice(130.0, -16.0, secs, false));
        let agent = [silence(3.0), agent_part(4.0), silence(1.0), agent_part(2.0)].concat();
        let customer = [
            voice(f0, -20.0, 3.0, true),
            gain(&agent_part(4.0), -30.0),
            silence(0.5),
            voice(f0, -20.0, 0.5, false),
            gain(&agent_part(2.0), -30.0)
                .iter()
                .zip(under)
                .map(|(e, u)| e + u)
                .collect(),
        ]
        .concat();
        let frames = analyse(&agent, &customer);
        let [a, c] = speech(&frames);
        // The agent is heard through their talk, the customer through
        // theirs, and the echo alone is not speech.
        assert!(a[310..690].iter().all(|&s| s), "agent");
        assert!(share_in_syllables(&c, 1.0, 3.0) > 0.95, "customer");
        assert!(c[760..790].iter().all(|&s| s), "customer");
        assert!(
            c[320..700].iter().all(|&s| !s),
            "the echo counted as speech"
        );
        frames
    }

    /// Each party's speech decisions.
    fn speech(frames: &[Vec<FrameFeatures>; 2]) -> [Vec<bool>; 2] {
        frames
            .each_ref()
            .map(|p| p.iter().map(|f| f.speech).collect())
    }

    /// The frames from `from` to `to` whose pitch is the agent's (130 Hz,
    /// or an octave off).
    fn agent_pitch_in(frames: &[FrameFeatures], from: usize, to: usize) -> usize {
        frames[from..to]
            .iter()
            .filter_map(|f| f.f0_hz)
            .filter(|&f0| {
                let d = (hz_to_st(f0) - hz_to_st(130.0)).abs();
                d.min((d - 12.0).abs()) <= 1.0
            })
            .count()
    }

    #[test]
    fn a_hum_that_starts_mid_call_is_not_talk_for_longer_than_it_takes_to_tell() {
        // 5 s of the faint line, then a hum 35 dB over it for 6 s, then
        // the customer talks in syllables over the hum.
        let customer = [
            silence(5.0),
            tonewatch_testkit::synth::hum(RATE as u32, -40.0, 6.0),
            voice(200.0, -20.0, 3.0, true)
                .iter()
                .zip(tonewatch_testkit::synth::hum(RATE as u32, -40.0, 3.0))
                .map(|(v, h)| v + h)
                .collect(),
        ]
        .concat();
        let frames = analyse(&silence(14.0), &customer);
        let [_, c] = speech(&frames);
        // Without a pitch and within 4.5 dB for 0.4 s, it is a noise bed:
        // speech for those 0.4 s, then not (the floor's memory alone would
        // have called it speech for 5 s).
        let called = c[500..1095].iter().filter(|&&s| s).count();
        assert!(called <= 45, "{called} frames of hum called speech");
        let late: Vec<usize> = (550..1095).filter(|&k| c[k]).collect();
        assert!(late.is_empty(), "hum called speech at frames {late:?}");
        // The voice over it is heard.
        assert!(share_in_syllables(&c[1100..], 0.0, 3.0) > 0.95, "voice");
    }

    #[test]
    fn a_phrase_ends_when_its_voice_does_and_a_stop_between_words_is_bridged() {
        // The customer: syllables of 0.5 s every second for 3 s (their
        // pauses are the line's silence), then two held sounds 80 ms apart
        // (a stop closure between words).
        let customer = [
            voice(200.0, -20.0, 3.0, true),
            voice(200.0, -20.0, 0.5, false),
            silence(0.08),
            voice(200.0, -20.0, 0.5, false),
            silence(1.0),
        ]
        .concat();
        let agent = vec![0.0; customer.len()];
        let [_, c] = speech(&analyse(&agent, &customer));
        for end in [50, 150, 250] {
            // The level falls within a frame or two of the syllable's end
            // (30 ms frames); 60 ms of tail are kept. The hangover used to
            // hold speech 120 ms past the level, the 5-frame release more.
            let last = (end..end + 40).filter(|&k| c[k]).max().unwrap_or(end);
            assert!(last <= end + 9, "speech ran on to frame {last} after {end}");
        }
        assert!(c[350..410].iter().all(|&s| s), "the stop closure bridged");
        assert!(c[420..].iter().all(|&s| !s), "the line's silence after");
    }

    #[test]
    fn a_pitch_an_octave_over_the_register_on_a_phone_line_is_none() {
        // A voice of harmonics `first` to 11 (from 3: through the telephone
        // band, the fundamental and the second cut away) whose pitch goes
        // from `from` to `to` Hz over `glide` s, then holds for `hold` s.
        let gliding = |first: u32, from: f32, to: f32, glide: f32, hold: f32, syllables: bool| {
            let n = ((glide + hold) * RATE as f32) as usize;
            let mut phase = 0.0f32;
            (0..n)
                .map(|i| {
                    let t = i as f32 / RATE as f32;
                    let f0 = wobbling(from + (to - from) * (t / glide).min(1.0), t);
                    phase = (phase + f0 / RATE as f32).fract();
                    if syllables && t % 1.0 >= 0.5 {
                        return 0.0;
                    }
                    0.02 * (first..=11)
                        .map(|h| (std::f32::consts::TAU * h as f32 * phase).sin() * 3.0 / h as f32)
                        .sum::<f32>()
                })
                .collect::<Vec<f32>>()
        };
        let over = |c: &[FrameFeatures], hz: f32| {
            c.iter().filter(|f| f.f0_hz.is_some_and(|p| p > hz)).count()
        };
        // 140 Hz for 12 s (the register, and on the phone line its cut
        // shown), then a glide up to 320 Hz, a hold there, and 176 Hz.
        let call = |first: u32| {
            let x = [
                gliding(first, 140.0, 140.0, 1.0, 11.0, true),
                gliding(first, 140.0, 320.0, 1.0, 0.5, false),
                gliding(first, 176.0, 176.0, 1.0, 0.0, false),
            ]
            .concat();
            let [_, c] = analyse(&silence(14.5), &x);
            c
        };
        // On the phone line the glide is followed while it stays within
        // three quarters of an octave of the register (which follows it,
        // slowly: about 150 Hz by then); past that, from about 255 Hz, no
        // pitch is given out (the tracker alone gave 257-284 Hz there, then
        // fell to the octave under the hold) ...
        let c = call(3);
        assert!(
            over(&c[1200..1260], 200.0) >= 15,
            "the glide's rise followed"
        );
        assert_eq!(
            over(&c[1200..1350], 255.0),
            0,
            "a pitch 0.75 octave over the register given out"
        );
        assert!(
            c[1260..1350].iter().all(|f| f.speech),
            "the high stretch is speech"
        );
        // ... while a voice 4 semitones over the start keeps its pitch.
        let near = |f: &FrameFeatures| {
            f.f0_hz
                .is_some_and(|p| (hz_to_st(p) - hz_to_st(176.0)).abs() < 0.5)
        };
        let kept = c[1360..1430].iter().filter(|f| near(f)).count();
        assert!(kept >= 63, "176 Hz read in {kept} of 70 frames");
        // On a line that keeps the fundamental the same glide reads high.
        let c = call(1);
        let high = over(&c[1200..1350], 255.0);
        assert!(high >= 10, "over 255 Hz in {high} frames on a full line");
    }

    #[test]
    fn a_voice_far_under_the_partys_own_level_gives_no_pitch() {
        // The customer talks at -20 dB for 3 s and pauses 2 s (the floor
        // settles on the line), then the same voice comes 22 dB under
        // their level (past WEAK_PITCH_DB: as the decaying end of a voiced
        // stretch is), then 12 dB under it.
        let customer = [
            voice(200.0, -20.0, 3.0, true),
            silence(2.0),
            voice(200.0, -42.0, 1.0, false),
            voice(200.0, -32.0, 1.0, false),
        ]
        .concat();
        let [_, c] = analyse(&silence(7.0), &customer);
        let weak = &c[520..590];
        assert!(weak.iter().all(|f| f.speech), "the weak voice is speech");
        assert!(
            weak.iter().all(|f| f.f0_hz.is_none()),
            "a weak frame's pitch given out"
        );
        let quieter = &c[620..690];
        assert!(
            quieter
                .iter()
                .all(|f| f.f0_hz.is_some_and(|hz| (hz - 200.0).abs() < 3.0)),
            "the pitch 12 dB under the own level"
        );
    }

    #[test]
    fn a_quiet_voice_talked_over_is_speech_and_echo_is_not() {
        // The customer goes on under the agent, 17 dB below their own
        // level (-37 dB: the agent 21 dB louder, the echo 9 dB under it).
        // Level alone calls that the agent's bleed; its pitch is the
        // customer's, going on from their own.
        let frames = talked_over(220.0, &voice(220.0, -37.0, 2.0, false));
        let [a, c] = speech(&frames);
        let own = c[810..990].iter().filter(|&&s| s).count();
        assert!(
            own >= 170,
            "{own} of 180 frames of the customer's voice under the agent"
        );
        assert!(a[810..990].iter().all(|&s| s), "agent");
        assert_eq!(agent_pitch_in(&frames[1], 800, 1000), 0);
        // The echo alone, 9 dB louder (a line's AGC lifting it as the
        // customer falls silent), at the same level: the agent's pitch,
        // so still bleed (after the customer's last syllable's hangover,
        // which carries no pitch: it would be the agent's).
        let echo = gain(&closures(&voice(130.0, -16.0, 2.0, false)), -30.0);
        let lift = 10f32.powf(9.0 / 20.0) - 1.0;
        let lifted: Vec<f32> = echo.iter().map(|e| e * lift).collect();
        let frames = talked_over(220.0, &lifted);
        assert!(
            frames[1][815..990].iter().all(|f| !f.speech),
            "lifted echo counted as speech"
        );
        assert_eq!(
            agent_pitch_in(&frames[1], 800, 1000),
            0,
            "the agent's pitch in the customer's frames"
        );
        // So when the customer's voice sits where the agent's does (131
        // Hz): the echo goes on from the customer's pitch, but it is the
        // agent's.
        let frames = talked_over(131.0, &lifted);
        assert!(
            frames[1][815..990].iter().all(|f| !f.speech),
            "lifted echo counted as speech"
        );
    }

    #[test]
    fn a_lines_ringback_is_not_talk_and_the_voice_after_it_is() {
        // Ringback as Europe's lines ring (425 Hz, 1 s on, 4 s off) and as
        // North America's (440 + 480 Hz, 2 s on, 4 s off), three rings,
        // then the customer answers (200 Hz, half-second syllables).
        let tone = |hz: &[f32], secs: f32| -> Vec<f32> {
            let n = (secs * RATE as f32) as usize;
            (0..n)
                .map(|i| {
                    let t = i as f32 / RATE as f32;
                    hz.iter()
                        .map(|f| 0.05 * (std::f32::consts::TAU * f * t).sin())
                        .sum()
                })
                .collect()
        };
        for (hz, on) in [(&[425.0][..], 1.0), (&[440.0, 480.0][..], 2.0)] {
            let ring = [tone(hz, on), silence(4.0)].concat();
            let customer = [
                ring.clone(),
                ring.clone(),
                ring,
                voice(200.0, -20.0, 4.0, true),
            ]
            .concat();
            let [_, c] = analyse(&silence(customer.len() as f32 / RATE as f32), &customer);
            let start = |k: usize| ((on + 4.0) * k as f32 * FPS as f32) as usize;
            for k in 0..3 {
                // Past TONE_S (and the frame the pitch decision lags) of
                // each ring: no talk, no pitch.
                let held = &c[start(k) + 70..start(k) + (on * FPS as f32) as usize];
                assert!(
                    held.iter().all(|f| !f.speech && f.f0_hz.is_none()),
                    "{hz:?} Hz ring {k}: talk or pitch in a held tone"
                );
            }
            let answer = &c[start(3)..];
            let talk = share_in_syllables(
                &answer.iter().map(|f| f.speech).collect::<Vec<_>>(),
                0.5,
                4.0,
            );
            assert!(
                talk > 0.95,
                "{hz:?}: the answer talks in {talk} of its syllables"
            );
            let near = answer
                .iter()
                .filter(|f| {
                    f.f0_hz
                        .is_some_and(|p| (hz_to_st(p) - hz_to_st(200.0)).abs() < 0.5)
                })
                .count();
            assert!(near >= 150, "{hz:?}: the answer's pitch in {near} frames");
        }
    }

    #[test]
    fn music_on_hold_is_not_talk_and_the_voice_after_it_is() {
        // The customer talks 6 s, then 20 s of music: a G major chord held
        // under a melody of pentatonic notes, 0.4 s each, each fading 4 dB
        // (every note four harmonics, -22 dB in all), then after half a
        // second's pause the customer again.
        let note = |hz: f32, t: f32| -> f32 {
            (1..=4)
                .map(|h| (std::f32::consts::TAU * hz * h as f32 * t).sin() / h as f32)
                .sum()
        };
        let melody = [392.0, 440.0, 523.3, 587.3, 659.3, 587.3, 523.3, 440.0];
        let n = 20 * RATE;
        let raw: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                let k = (t / 0.4) as usize;
                let fade = 10f32.powf(-4.0 / 20.0 * (t % 0.4) / 0.4);
                let chord: f32 = [196.0, 246.9, 293.7].iter().map(|&f| note(f, t)).sum();
                0.2 * chord + fade * note(melody[k % melody.len()], t)
            })
            .collect();
        let rms = (raw.iter().map(|v| v * v).sum::<f32>() / n as f32).sqrt();
        let music = gain(&raw, -22.0 - 3.01 - 20.0 * rms.log10());
        let customer = [
            voice(200.0, -20.0, 6.0, true),
            music,
            silence(0.5),
            voice(200.0, -20.0, 4.0, true),
        ]
        .concat();
        let [_, c] = analyse(&silence(customer.len() as f32 / RATE as f32), &customer);
        let speech: Vec<bool> = c.iter().map(|f| f.speech).collect();
        assert!(
            share_in_syllables(&speech, 0.5, 6.0) > 0.95,
            "the voice before"
        );
        // Past CONTINUOUS_S and CONTINUOUS_HOLD_S (and a half second's
        // margin) of the music: no talk, no pitch.
        let told = (10.5 * FPS as f32) as usize;
        let talk = c[told..26 * FPS]
            .iter()
            .filter(|f| f.speech || f.f0_hz.is_some())
            .count();
        assert_eq!(talk, 0, "talk or pitch in {talk} frames of held music");
        // The voice after it, from its first syllable.
        let talk = share_in_syllables(&speech[(26.5 * FPS as f32) as usize..], 0.0, 4.0);
        assert!(talk > 0.95, "the answer talks in {talk} of its syllables");
    }
}
