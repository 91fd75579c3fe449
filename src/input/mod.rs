//! Reading recorded calls: WAV files in every encoding call recorders write
//! (PCM, float, G.711), checked and decoded block by block.

pub mod g711;
pub mod wav;
