//! What a call leaves behind: JSON Lines on stdout, the coaching report.

pub mod durable;
pub mod report;

use tonewatch_core::Record;

/// Writes one record as a line of JSON.
///
/// # Errors
/// The writer's.
pub fn write_record(out: &mut impl std::io::Write, rec: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, rec)?;
    out.write_all(b"\n")
}

/// A time on the call as a person reads it: `m:ss`, or `h:mm:ss` past an
/// hour (rounded to the second).
#[must_use]
pub fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_reads_well() {
        assert_eq!(clock(0.4), "0:00");
        assert_eq!(clock(75.0), "1:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
