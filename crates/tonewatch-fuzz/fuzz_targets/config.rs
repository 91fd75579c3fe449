//! Any text as a configuration file: parsed, range-checked and turned into
//! the analysis settings. An error naming a line or a key is fine; a panic
//! is not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tonewatch::config::Config;
use tonewatch_core::{CallAnalyzer, Monitor, Speaker};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text) {
        Ok(cfg) => {
            if let Ok(settings) = cfg.settings() {
                // Settings that pass the checks must build an analysis.
                let speakers = [Speaker::Agent, Speaker::Customer];
                let _ = CallAnalyzer::new(&settings, speakers.len());
                let _ = Monitor::new(&settings, &speakers, None);
            }
        }
        Err((line, _key, message)) => {
            assert!(!message.is_empty());
            assert!(
                line <= text.lines().count() + 1,
                "line {line} of {}",
                text.lines().count()
            );
        }
    }
});
