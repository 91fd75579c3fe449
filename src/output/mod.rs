//! What a call leaves behind: JSON Lines on stdout, the coaching report.

pub mod durable;
pub mod report;
pub mod trends;

use serde::Serialize;
use tonewatch_core::Record;
use tonewatch_core::calls::CallState;

/// Writes one record as a line of JSON.
///
/// # Errors
/// The writer's.
pub fn write_record(out: &mut impl std::io::Write, rec: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, rec)?;
    out.write_all(b"\n")
}

/// A record labelled with the call it belongs to.
#[derive(Serialize)]
struct Labelled<'a> {
    #[serde(flatten)]
    record: &'a Record,
    call_id: &'a str,
}

/// Writes one record as a line of JSON, with `"call_id"` when it belongs
/// to a call of a stream of calls.
///
/// # Errors
/// The writer's.
pub fn write_line(
    out: &mut impl std::io::Write,
    rec: &Record,
    call_id: Option<&str>,
) -> std::io::Result<()> {
    match call_id {
        Some(call_id) => serde_json::to_writer(
            &mut *out,
            &Labelled {
                record: rec,
                call_id,
            },
        )?,
        None => serde_json::to_writer(&mut *out, rec)?,
    }
    out.write_all(b"\n")
}

/// Follows the `call` records of a stream to label the records between
/// them with their call's id (see [`tonewatch_core::calls`]).
#[derive(Debug, Default, Clone)]
pub struct CallLabel {
    call: Option<String>,
    /// The call has ended; its summary is next.
    ended: bool,
    /// The id of the call whose summary was labelled last.
    last: Option<String>,
}

impl CallLabel {
    /// The call id `rec` is to be labelled with: that of the call open
    /// when it came (a call's summary comes right after its `ended`);
    /// `None` between calls and for the `call` records themselves (they
    /// carry their own).
    pub fn label(&mut self, rec: &Record) -> Option<&str> {
        match rec {
            Record::Call(c) => {
                self.call = Some(c.call_id.clone());
                self.ended = c.state == CallState::Ended;
                None
            }
            Record::Summary(_) if self.ended => {
                self.ended = false;
                self.last = self.call.take();
                self.last.as_deref()
            }
            _ if self.ended => {
                // Only the summary follows an `ended`.
                self.ended = false;
                self.call = None;
                None
            }
            _ => self.call.as_deref(),
        }
    }

    /// Writes `rec` labelled (see [`write_line`]).
    ///
    /// # Errors
    /// The writer's.
    pub fn write(&mut self, out: &mut impl std::io::Write, rec: &Record) -> std::io::Result<()> {
        let id = self.label(rec);
        write_line(out, rec, id)
    }
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
