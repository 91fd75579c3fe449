//! Any bytes as a WebSocket session of `serve`: the first byte picks the
//! protocol (even: AudioHook, odd: media streams), the rest is messages
//! separated by 0xFF 0x00, each starting with `t` (text) or anything else
//! (binary). A session may end, once, with its reason; it may not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tonewatch::serve::audiohook::AudioHookSession;
use tonewatch::serve::protocol::{Session, Step};
use tonewatch::serve::twilio::TwilioSession;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut session: Box<dyn Session> = if which % 2 == 0 {
        Box::new(AudioHookSession::new(
            "site",
            false,
            Some("30b0e395-84d3-4570-ac13-9a62d8f514c0".into()),
            None,
            4096,
        ))
    } else {
        Box::new(TwilioSession::new("site", false, 4096, None))
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut messages = Vec::new();
    for i in 0..rest.len() {
        if rest[i] == 0xFF && rest.get(i + 1) == Some(&0x00) {
            messages.push(&rest[start..i]);
            start = i + 2;
        }
    }
    messages.push(&rest[start.min(rest.len())..]);
    for m in messages {
        match m.split_first() {
            Some((b't', text)) => session.text(&String::from_utf8_lossy(text), &mut out),
            Some((_, bytes)) => session.binary(bytes, &mut out),
            None => {}
        }
    }
    let ends = out.iter().filter(|s| matches!(s, Step::End { .. })).count();
    assert!(ends <= 1, "{ends} ends");
    assert_eq!(session.ended(), ends == 1);
    for s in &out {
        if let Step::Audio(a) = s {
            assert!(a.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        }
    }
});
