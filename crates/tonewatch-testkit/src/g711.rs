//! G.711 encoders (ITU-T G.711, as the reference C code in Sun's public
//! `g711.c` does it), for writing telephone-codec fixtures. The daemon only
//! decodes; encoding is test tooling and lives here.

/// Encodes a 16-bit linear sample as μ-law.
#[must_use]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    let s = s.min(CLIP) + BIAS;
    // Position of the highest set bit above bit 7 gives the segment.
    let exponent = (31 - (s >> 7).max(1).leading_zeros()).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Encodes a 16-bit linear sample as A-law.
#[must_use]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 { (0x80, s) } else { (0, -s - 1) };
    let magnitude = magnitude.min(32767);
    let code = if magnitude < 256 {
        magnitude >> 4
    } else {
        let exponent = (31 - (magnitude >> 8).leading_zeros()) as i32 + 1;
        (exponent << 4) | ((magnitude >> (exponent + 3)) & 0x0F)
    };
    ((sign | code) as u8) ^ 0x55
}
