//! G.711 μ-law and A-law companding (ITU-T G.711), the encodings most call
//! recorders write into WAV files as format tags 7 and 6.
//!
//! `hound` reads only linear PCM and IEEE float, so these two 8-bit codes are
//! decoded here through 256-entry tables built at compile time. The encoders
//! that write telephone fixtures are test tooling: `tonewatch_testkit::g711`.
//!
//! Decoded values are on the 16-bit linear scale (μ-law peaks at ±32124,
//! A-law at ±32256), the same scale a 16-bit PCM file uses, so loudness
//! figures agree between a PCM file and its G.711 copy.

/// Decodes one μ-law byte to a 16-bit linear sample.
#[must_use]
pub const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = (u >> 4) & 0x07;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Decodes one A-law byte to a 16-bit linear sample.
#[must_use]
pub const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let exponent = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // In A-law a set sign bit means a positive sample.
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn table(ulaw: bool) -> [f32; 256] {
    let mut out = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        let linear = if ulaw {
            ulaw_to_linear(i as u8)
        } else {
            alaw_to_linear(i as u8)
        };
        out[i] = linear as f32 / 32768.0;
        i += 1;
    }
    out
}

/// μ-law byte → sample in [-1, 1).
pub static ULAW_TO_F32: [f32; 256] = table(true);
/// A-law byte → sample in [-1, 1).
pub static ALAW_TO_F32: [f32; 256] = table(false);

#[cfg(test)]
mod tests {
    use super::*;
    use tonewatch_testkit::g711::{linear_to_alaw, linear_to_ulaw};

    /// Values read off the G.711 tables by hand.
    #[test]
    fn ulaw_matches_the_standard_table() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0xEF), 132);
    }

    #[test]
    fn alaw_matches_the_standard_table() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for code in 0..=255u8 {
            let u = ulaw_to_linear(code);
            // 0x7F and 0xFF both mean zero; the encoder picks 0xFF.
            let back = linear_to_ulaw(u);
            assert_eq!(ulaw_to_linear(back), u, "μ-law code {code:#04x}");
            let a = alaw_to_linear(code);
            assert_eq!(linear_to_alaw(a), code, "A-law code {code:#04x}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for s in (-32000i32..32000).step_by(97) {
            let s = s as i16;
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(s)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(s)));
            // Segment step is 2^(exponent+3) for μ-law; relative error < 1/16.
            let tol = (i32::from(s).abs() / 16).max(16);
            assert!((u - i32::from(s)).abs() <= tol, "μ-law {s} -> {u}");
            assert!((a - i32::from(s)).abs() <= tol, "A-law {s} -> {a}");
        }
    }
}
