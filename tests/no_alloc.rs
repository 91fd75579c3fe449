//! Proof that the steady-state analysis path allocates nothing: a counting
//! global allocator watches `ChannelInput::push` → `Lockstep::drain`
//! (`CallAnalyzer::process` on every window) → `Calls::on_frame` (finding
//! calls by activity; in a call, its `Monitor`: tallies and every alert
//! rule) over 22 s of a two-party call that needs resampling, after a
//! warm-up, and over 9 s between calls in which a hum comes on on the
//! customer's line (the speech decision re-seats its floor on it, and it
//! starts no call); and that the body of `live`'s audio callback
//! (`CaptureWriter::write`: convert, route, push into the lock-free rings,
//! count overruns) allocates nothing for any sample format, even with full
//! rings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tonewatch::capture::{CaptureWriter, Pick};
use tonewatch_core::calls::{Boundaries, CallConfig, Calls};
use tonewatch_core::{
    CallAnalyzer, ChannelInput, FrameFeatures, Lockstep, Output, Settings, Speaker,
};
use tonewatch_testkit::synth::{self, VoiceSpec};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (r, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn the_counter_sees_an_allocation() {
    let (v, n) = allocations_during(|| vec![1u8; 64]);
    assert_eq!(v.len(), 64);
    assert!(n >= 1, "a Vec allocation went unseen");
}

#[test]
fn steady_state_analysis_allocates_nothing() {
    let rate = 16000;
    let voice = |f0_hz, seed| VoiceSpec {
        rate_hz: rate,
        duration_s: 24.0,
        f0_hz,
        snr_db: Some(20.0),
        seed,
        ..VoiceSpec::default()
    };
    let (mut agent, _) = synth::render(&voice(120.0, 1));
    let (mut customer, _) = synth::render(&voice(210.0, 2));
    // Then 35 s of silence: the call ends by activity (20 s), and the
    // stream goes on between calls.
    for x in [&mut agent, &mut customer] {
        x.resize(59 * rate as usize, 0.0);
    }
    // From 52 s a mains hum at -40 dBFS on the customer's line.
    let from = 52 * rate as usize;
    for (x, h) in customer[from..]
        .iter_mut()
        .zip(synth::hum(rate, -40.0, 7.0))
    {
        *x += h;
    }

    let settings = Settings::default();
    let speakers = [Speaker::Agent, Speaker::Customer];
    // A stream of calls found by activity: what `live` runs.
    let mut calls = Calls::new(
        &settings,
        &speakers,
        None,
        &CallConfig::default(),
        Boundaries::Activity,
        Box::new(|| "call".to_string()),
    );
    let events = Cell::new(0u64);
    let boundaries = Cell::new(0u64);
    let inputs = vec![
        ChannelInput::new(rate, settings.geometry()).unwrap(),
        ChannelInput::new(rate, settings.geometry()).unwrap(),
    ];
    // The same lockstep loop replay and live run.
    let mut call = Lockstep::new(CallAnalyzer::new(&settings, 2), inputs);
    let chunk = call.inputs()[0].chunk_len();
    let frames = Cell::new(0u64);
    let speech_frames = Cell::new(0u64);
    let bump = |c: &Cell<u64>, n: u64| c.set(c.get() + n);

    let mut run = |from: usize, to: usize| {
        let mut pos = from;
        while pos < to {
            let end = (pos + chunk).min(to);
            let [a, c] = call.inputs_mut() else {
                unreachable!("two channels")
            };
            let took_a = a.push(&agent[pos..end]);
            let took_c = c.push(&customer[pos..end]);
            assert_eq!(took_a, took_c);
            pos += took_a;
            call.drain(&mut |t, out: &[FrameFeatures]| {
                bump(&frames, 1);
                bump(
                    &speech_frames,
                    u64::from(out[0].speech) + u64::from(out[1].speech),
                );
                calls.on_frame(t, out, &mut |o| {
                    match o {
                        Output::Event(_) => bump(&events, 1),
                        Output::Call(_) => bump(&boundaries, 1),
                        _ => {}
                    }
                    Ok(())
                })
            })
            .unwrap();
        }
    };
    let s = |seconds: usize| seconds * rate as usize;
    // Warm-up: two seconds (FFT planning is done, rings fill, the call
    // starts: a boundary allocates its monitor).
    run(0, s(2));
    let ((), n) = allocations_during(|| run(s(2), s(24)));
    assert_eq!(n, 0, "{n} allocations in steady state");
    // The analysis really ran: 24 s of 10 ms frames (less the pitch
    // look-ahead still held back), both parties talking, and past the 20 s
    // warm-up the customer's agitation was reported.
    let (measured, talked) = (frames.get(), speech_frames.get());
    assert!(measured >= 2380, "{measured} frames");
    assert!(talked > 2000, "{talked} speech frames");
    assert!(events.get() > 0, "no agitation readings");
    assert_eq!(boundaries.get(), 1, "the call started");
    // The call ends 20 s after the last talk (its summary allocates);
    // between calls, frames go on without allocating.
    run(s(24), s(50));
    assert_eq!(boundaries.get(), 2, "the call ended");
    let speech_before = speech_frames.get();
    let ((), n) = allocations_during(|| run(s(50), s(59)));
    assert_eq!(n, 0, "{n} allocations between calls");
    // The hum read as speech only while it was told from a voice (0.4 s),
    // and started no call.
    let hum_speech = speech_frames.get() - speech_before;
    assert!(hum_speech <= 45, "{hum_speech} frames of hum called speech");
    assert_eq!(boundaries.get(), 2, "the hum started a call");
}

#[test]
fn the_audio_callback_allocates_nothing() {
    use std::sync::atomic::Ordering;
    // A stereo device carrying both parties; 10 ms callbacks at 48 kHz,
    // a ring of 0.1 s so that it overflows and the drop path runs too.
    let frames = 480;
    let (mut writer, mut readers) =
        CaptureWriter::new(2, &[Pick::Channel(0), Pick::Channel(1)], 4800);
    let i16s: Vec<i16> = (0..2 * frames)
        .map(|i| (i as i16).wrapping_mul(97))
        .collect();
    let u16s: Vec<u16> = i16s
        .iter()
        .map(|&x| (i32::from(x) + 32768) as u16)
        .collect();
    let f32s: Vec<f32> = i16s.iter().map(|&x| f32::from(x) / 32768.0).collect();
    let i32s: Vec<i32> = i16s.iter().map(|&x| i32::from(x) << 16).collect();
    // Warm-up: first touches of the rings.
    writer.write(&f32s);
    let ((), n) = allocations_during(|| {
        for _ in 0..20 {
            writer.write(&i16s);
            writer.write(&u16s);
            writer.write(&f32s);
            writer.write(&i32s);
        }
    });
    assert_eq!(n, 0, "{n} allocations in the audio callback");
    // It really ran: 81 callbacks of 480 frames reached each party, and
    // what the ring could not hold was counted.
    for r in &mut readers {
        let got = r.stats.frames.load(Ordering::Relaxed);
        let dropped = r.stats.overruns.load(Ordering::Relaxed);
        assert_eq!(got, 81 * 480);
        assert_eq!(r.ring.slots() as u64, 4800);
        assert_eq!(dropped, got - 4800);
    }
    // The first samples kept are the warm-up's, converted: left channel
    // of the f32 block.
    let chunk = readers[0].ring.read_chunk(3).unwrap();
    let (a, _) = chunk.as_slices();
    assert_eq!(
        a,
        &f32s[..6].iter().step_by(2).copied().collect::<Vec<_>>()[..]
    );
}

#[test]
fn the_pulseaudio_read_path_allocates_nothing() {
    use std::sync::atomic::Ordering;
    use tonewatch::capture::pulse::{Wire, push_bytes};
    // What the libpulse capture thread does with each fragment the server
    // hands it: 10 ms of stereo 48 kHz in each wire format.
    let frames = 480;
    let (mut writer, mut readers) =
        CaptureWriter::new(2, &[Pick::Channel(0), Pick::Channel(1)], 48_000);
    let i16s: Vec<i16> = (0..2 * frames)
        .map(|i| (i as i16).wrapping_mul(97))
        .collect();
    let s16: Vec<u8> = i16s.iter().flat_map(|x| x.to_le_bytes()).collect();
    let s32: Vec<u8> = i16s
        .iter()
        .flat_map(|&x| (i32::from(x) << 16).to_le_bytes())
        .collect();
    let f32le: Vec<u8> = i16s
        .iter()
        .flat_map(|&x| (f32::from(x) / 32768.0).to_le_bytes())
        .collect();
    let mut scratch = vec![0.0_f32; 4096];
    push_bytes(&mut writer, Wire::F32, &f32le, &mut scratch);
    let ((), n) = allocations_during(|| {
        for _ in 0..20 {
            push_bytes(&mut writer, Wire::S16, &s16, &mut scratch);
            push_bytes(&mut writer, Wire::S32, &s32, &mut scratch);
            push_bytes(&mut writer, Wire::F32, &f32le, &mut scratch);
        }
    });
    assert_eq!(n, 0, "{n} allocations on the PulseAudio read path");
    // 61 fragments reached each party, and the same samples came out of
    // every format: the left channel's third sample is i16s[4].
    for r in &mut readers {
        assert_eq!(r.stats.frames.load(Ordering::Relaxed), 61 * 480);
    }
    let want = f32::from(i16s[4]) / 32768.0;
    let chunk = readers[0].ring.read_chunk(61 * 480).unwrap();
    let got: Vec<f32> = chunk.into_iter().collect();
    for fragment in got.chunks(480) {
        assert_eq!(fragment[2], want);
    }
}
