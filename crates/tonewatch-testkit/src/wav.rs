//! WAV writers for fixtures and tests: 16-bit PCM through `hound`, and G.711
//! (μ-law, A-law), which `hound` cannot write.

/// Writes interleaved samples as a 16-bit PCM WAV.
///
/// # Errors
/// Any write error.
pub fn write_wav_i16(
    path: &std::path::Path,
    rate_hz: u32,
    channels: u16,
    interleaved: &[f32],
) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &v in interleaved {
        w.write_sample((v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)?;
    }
    w.finalize()
}

/// Writes interleaved samples as a G.711 WAV (format tag 7 for μ-law, 6 for
/// A-law), which `hound` cannot write.
///
/// # Errors
/// Any write error.
pub fn write_wav_g711(
    path: &std::path::Path,
    rate_hz: u32,
    channels: u16,
    interleaved: &[f32],
    mu_law: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    let data: Vec<u8> = interleaved
        .iter()
        .map(|&v| {
            let s = (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
            if mu_law {
                crate::g711::linear_to_ulaw(s)
            } else {
                crate::g711::linear_to_alaw(s)
            }
        })
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let data_len = data.len() as u32;
    let pad = data_len & 1;
    f.write_all(b"RIFF")?;
    // fmt chunk of 18 bytes (with cbSize), fact chunk, data chunk.
    f.write_all(&(4 + 26 + 12 + 8 + data_len + pad).to_le_bytes())?;
    f.write_all(b"WAVEfmt ")?;
    f.write_all(&18u32.to_le_bytes())?;
    f.write_all(&(if mu_law { 7u16 } else { 6u16 }).to_le_bytes())?;
    f.write_all(&channels.to_le_bytes())?;
    f.write_all(&rate_hz.to_le_bytes())?;
    f.write_all(&(rate_hz * u32::from(channels)).to_le_bytes())?;
    f.write_all(&channels.to_le_bytes())?;
    f.write_all(&8u16.to_le_bytes())?;
    f.write_all(&0u16.to_le_bytes())?;
    f.write_all(b"fact")?;
    f.write_all(&4u32.to_le_bytes())?;
    f.write_all(&(data_len / u32::from(channels)).to_le_bytes())?;
    f.write_all(b"data")?;
    f.write_all(&data_len.to_le_bytes())?;
    f.write_all(&data)?;
    if pad == 1 {
        f.write_all(&[0])?;
    }
    f.flush()
}
