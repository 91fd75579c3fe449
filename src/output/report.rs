//! The coaching report: one self-contained HTML file per call (inline SVG,
//! CSS and a few lines of script, nothing fetched) with a timeline of both
//! parties — who is speaking, pitch in semitones against the party's own
//! median, speaking rate, loudness, the customer's agitation — alert
//! markers, the alerts in a table and the call summary.
//!
//! **Click to listen**: the page refers to the recording by a relative path
//! (an `<audio>` element: the audio is never copied into the page, it stays
//! where it is kept) and clicking the timeline, an alert marker or an alert
//! row seeks it to [`LEAD_S`] before that moment. Opened away from the
//! recording, the page says so.
//!
//! [`ReportBuilder`] follows a replay's [`Output`] in fixed memory: frames
//! are folded into at most [`MAX_BINS`] time bins, so a one-hour call's
//! report is as small as a five-minute one's.

use std::fmt::Write as _;

use tonewatch_core::alerts::{Alert, AlertState, Event, Evidence, Severity};
use tonewatch_core::analysis::Speaker;
use tonewatch_core::monitor::Output;
use tonewatch_core::summary::SummaryRecord;

use super::clock;

/// Time bins across the timeline at most.
pub const MAX_BINS: usize = 1200;
/// Shortest bin (s).
const MIN_BIN_S: f64 = 0.1;
/// The timeline's width, and where its plots start and how wide they are,
/// in its own units (the script maps a click back to a time with them).
const SVG_W: f64 = 1200.0;
const PLOT_LEFT: f64 = 70.0;
const PLOT_WIDTH: f64 = SVG_W - PLOT_LEFT - 10.0;
/// A click seeks the recording this long before the moment clicked (s):
/// the coach hears what led up to it.
pub const LEAD_S: f64 = 3.0;

/// What the page can play: each recording of the call, as (label, address
/// relative to the page), or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// The call's recordings (one stereo file, or one per party).
    Recordings(Vec<(String, String)>),
    /// No recording to point at, and why (e.g. read from standard input).
    Unavailable(&'static str),
}

/// The address of `recording` relative to a page written at `page`, each
/// path segment percent-encoded; `None` when either cannot be resolved.
#[must_use]
pub fn relative_url(page: &std::path::Path, recording: &std::path::Path) -> Option<String> {
    use std::path::Component;
    let dir = page.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(std::path::Path::new("."))).ok()?;
    let target = std::fs::canonicalize(recording).ok()?;
    let from: Vec<Component> = dir.components().collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    for c in &to[common..] {
        let seg = c.as_os_str().to_str()?;
        parts.push(percent_encoding::utf8_percent_encode(seg, SEGMENT).to_string());
    }
    Some(parts.join("/"))
}

/// What a path segment of a URL must encode (RFC 3986 `pchar`, less what
/// breaks an HTML attribute).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    frames: u32,
    speech: u32,
    /// Sum and count of log2(f0) over voiced speech frames.
    log2_f0: f64,
    voiced: u32,
    rate: f64,
    rated: u32,
    /// Sum of loudness over speech frames.
    loud_db: f64,
}

impl Bin {
    /// Both bins' frames in one.
    fn merged(a: &Self, b: &Self) -> Self {
        Self {
            frames: a.frames + b.frames,
            speech: a.speech + b.speech,
            log2_f0: a.log2_f0 + b.log2_f0,
            voiced: a.voiced + b.voiced,
            rate: a.rate + b.rate,
            rated: a.rated + b.rated,
            loud_db: a.loud_db + b.loud_db,
        }
    }
}

/// Collects a call's picture while it is analysed.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    title: String,
    speakers: Vec<Speaker>,
    bin_s: f64,
    bins: Vec<Vec<Bin>>,
    agitation: Vec<(f64, f64)>,
    alerts: Vec<Alert>,
    listen: Listen,
}

impl ReportBuilder {
    /// A report titled `title` for a call of about `duration_s` seconds
    /// with `speakers` (analysis order). A call that runs longer (a stream
    /// whose length was not declared: give 0) has its bins merged two by
    /// two whenever it outgrows them: the memory stays fixed.
    #[must_use]
    pub fn new(title: &str, speakers: &[Speaker], duration_s: f64) -> Self {
        let bin_s = (duration_s / MAX_BINS as f64).max(MIN_BIN_S);
        let n = if duration_s > 0.0 {
            (duration_s / bin_s).ceil() as usize + 1
        } else {
            MAX_BINS
        };
        Self {
            title: title.to_string(),
            speakers: speakers.to_vec(),
            bin_s,
            bins: speakers.iter().map(|_| vec![Bin::default(); n]).collect(),
            agitation: Vec::new(),
            alerts: Vec::new(),
            listen: Listen::Unavailable("no recording was given"),
        }
    }

    /// What the page plays when clicked (see [`Listen`]).
    pub fn listen_to(&mut self, listen: Listen) {
        self.listen = listen;
    }

    /// Takes one output of the call.
    pub fn add(&mut self, o: &Output<'_>) {
        match *o {
            Output::Frame { t, frames } => {
                let mut i = (t.max(0.0) / self.bin_s) as usize;
                while i >= self.bins[0].len() {
                    self.coarsen();
                    i = (t.max(0.0) / self.bin_s) as usize;
                }
                for (bins, f) in self.bins.iter_mut().zip(frames) {
                    let b = &mut bins[i];
                    b.frames += 1;
                    if f.speech {
                        b.speech += 1;
                        b.loud_db += f64::from(f.loudness_db);
                    }
                    if let Some(f0) = f.f0_hz {
                        b.log2_f0 += f64::from(f0).log2();
                        b.voiced += 1;
                    }
                    if let Some(r) = f.rate_sps {
                        b.rate += f64::from(r);
                        b.rated += 1;
                    }
                }
            }
            Output::Event(Event::Alert(a)) => self.alerts.push(a),
            Output::Event(Event::Agitation(g)) => self.agitation.push((g.t, g.score)),
            // The page is of one call: its summary is given to `html`.
            Output::Call(_) | Output::Summary(_) => {}
        }
    }

    /// Doubles the bins' length: bins 2k and 2k+1 become bin k.
    fn coarsen(&mut self) {
        for bins in &mut self.bins {
            let n = bins.len();
            for k in 0..n {
                bins[k] = match (bins.get(2 * k), bins.get(2 * k + 1)) {
                    (Some(a), Some(b)) => Bin::merged(a, b),
                    (Some(a), None) => *a,
                    _ => Bin::default(),
                };
            }
        }
        self.bin_s *= 2.0;
    }

    /// Alerts raised (not cleared) so far: the markers the picture shows.
    #[must_use]
    pub fn raised(&self) -> usize {
        self.alerts
            .iter()
            .filter(|a| a.state == AlertState::Raised)
            .count()
    }

    /// The HTML page, with the call's `summary`.
    #[must_use]
    pub fn html(&self, summary: &SummaryRecord) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let title = escape(&self.title);
        let _ = writeln!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>tonewatch: {title}</title><style>{CSS}</style></head><body>\n\
             <h1>{title}</h1>\n<p class=\"sub\">{} · {} alerts raised · made by tonewatch {}</p>",
            clock(summary.duration_s),
            self.raised(),
            env!("CARGO_PKG_VERSION"),
        );
        self.listen_panel(&mut h);
        self.svg(&mut h, summary);
        self.summary_table(&mut h, summary);
        self.alert_table(&mut h);
        let duration = summary.duration_s.max(self.bin_s);
        let _ = writeln!(
            h,
            "<script>{}</script>",
            SCRIPT
                .replace("LEAD_S", &LEAD_S.to_string())
                .replace("DURATION_S", &duration.to_string())
                .replace("PLOT_LEFT", &PLOT_LEFT.to_string())
                .replace("PLOT_WIDTH", &PLOT_WIDTH.to_string())
        );
        h.push_str("</body></html>\n");
        h
    }

    /// The recording(s) to listen to, or why there are none.
    fn listen_panel(&self, h: &mut String) {
        h.push_str("<div class=\"listen\">");
        match &self.listen {
            Listen::Recordings(recs) => {
                for (label, src) in recs {
                    let _ = write!(
                        h,
                        "<label>{} <audio class=\"rec\" controls preload=\"metadata\" src=\"{}\"></audio></label> ",
                        escape(label),
                        escape(src)
                    );
                }
                let names: Vec<String> = recs.iter().map(|(_, s)| escape(s)).collect();
                let _ = write!(
                    h,
                    "<p id=\"missing\" class=\"missing\" hidden>The recording ({}) is not where this page \
                     expects it: keep the page next to it to listen. Nothing of the audio is in the page.</p>\
                     <p class=\"sub\">Click the timeline, a marker or an alert to listen from {LEAD_S} s before it.</p>",
                    names.join(", ")
                );
            }
            Listen::Unavailable(why) => {
                let _ = write!(
                    h,
                    "<p class=\"sub\">No recording to listen to: {}.</p>",
                    escape(why)
                );
            }
        }
        h.push_str("</div>\n");
    }

    fn median_f0(summary: &SummaryRecord, speaker: Speaker) -> Option<f64> {
        summary
            .speakers
            .iter()
            .find(|s| s.speaker == speaker)
            .and_then(|s| s.f0_median_hz)
    }

    fn svg(&self, h: &mut String, summary: &SummaryRecord) {
        const W: f64 = SVG_W;
        const LEFT: f64 = PLOT_LEFT;
        const PLOT_W: f64 = PLOT_WIDTH;
        // Panels: (title, height).
        let panels: [(&str, f64); 5] = [
            ("talking", 50.0),
            (
                "pitch, semitones from own median (bold: its median over 10 s, as the rules read it; faint: as measured)",
                130.0,
            ),
            ("speaking rate, syllables/s", 110.0),
            ("loudness of speech, dBFS", 110.0),
            ("customer agitation", 90.0),
        ];
        let gap = 26.0;
        let total_h: f64 = panels.iter().map(|p| p.1 + gap).sum::<f64>() + 20.0;
        let duration = summary.duration_s.max(self.bin_s);
        let x = |t: f64| LEFT + (t / duration).clamp(0.0, 1.0) * PLOT_W;
        let _ = writeln!(
            h,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" viewBox=\"0 0 {W} {total_h}\" \
             width=\"{W}\" height=\"{total_h}\" role=\"img\" aria-label=\"timeline of the call\">"
        );
        let mut tops = Vec::new();
        let mut y = 20.0;
        for (name, ph) in panels {
            tops.push((y, ph));
            let _ = writeln!(
                h,
                "<text class=\"panel\" x=\"{LEFT}\" y=\"{:.1}\">{name}</text>\
                 <rect class=\"frame\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{PLOT_W}\" height=\"{ph}\"/>",
                y - 6.0
            );
            y += ph + gap;
        }
        // Time axis: a tick every "nice" interval.
        let step = nice_step(duration / 10.0);
        let mut t = 0.0;
        while t <= duration + 1e-9 {
            let _ = writeln!(
                h,
                "<line class=\"grid\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"20\" y2=\"{1:.1}\"/>\
                 <text class=\"tick\" x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3}</text>",
                x(t),
                y - gap,
                y - gap + 14.0,
                clock(t)
            );
            t += step;
        }
        let color = |s: Speaker| match s {
            Speaker::Agent => "agent",
            Speaker::Customer => "customer",
        };
        // Talking: one lane per party, a bar per bin where they speak.
        let (ty, th) = tops[0];
        let lane = th / self.speakers.len().max(1) as f64;
        let bw = PLOT_W / (duration / self.bin_s);
        for (k, (&sp, bins)) in self.speakers.iter().zip(&self.bins).enumerate() {
            let ly = ty + lane * k as f64;
            let _ = write!(
                h,
                "<text class=\"lane\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n<g class=\"{}\">",
                LEFT - 4.0,
                ly + lane * 0.65,
                sp.as_str(),
                color(sp)
            );
            for (i, b) in bins.iter().enumerate() {
                if b.frames > 0 && b.speech * 2 >= b.frames {
                    let _ = write!(
                        h,
                        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\"/>",
                        x(i as f64 * self.bin_s),
                        ly + 3.0,
                        bw.max(0.5),
                        lane - 6.0
                    );
                }
            }
            h.push_str("</g>\n");
        }
        // Line panels.
        let series = |k: usize, panel: usize| -> Vec<Option<f64>> {
            let sp = self.speakers[k];
            let med = Self::median_f0(summary, sp).map(f64::log2);
            self.bins[k]
                .iter()
                .map(|b| match panel {
                    1 => med.and_then(|m| {
                        (b.voiced > 0).then(|| 12.0 * (b.log2_f0 / f64::from(b.voiced) - m))
                    }),
                    2 => (b.rated > 0).then(|| b.rate / f64::from(b.rated)),
                    _ => (b.speech > 0).then(|| b.loud_db / f64::from(b.speech)),
                })
                .collect()
        };
        for (panel, (lo, hi), unit) in [
            (1usize, (-8.0, 8.0), "st"),
            (2, (0.0, 8.0), ""),
            (3, (-60.0, 0.0), ""),
        ] {
            let (py, ph) = tops[panel];
            let yv = |v: f64| py + ph - ((v - lo) / (hi - lo)).clamp(0.0, 1.0) * ph;
            axis(h, LEFT, lo, hi, unit, yv);
            if panel == 1 {
                let _ = writeln!(
                    h,
                    "<line class=\"zero\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\"/>",
                    LEFT + PLOT_W,
                    yv(0.0)
                );
            }
            for k in 0..self.speakers.len() {
                let pts = series(k, panel);
                let class = color(self.speakers[k]);
                let at = |i: usize| x(i as f64 * self.bin_s);
                // The party's normal: the middle half of what the lane's
                // line shows (the pitch trend, the rate), as a light band.
                if panel <= 2 {
                    let half = (TREND_S / 2.0 / self.bin_s).round() as usize;
                    let shown = if panel == 1 {
                        trend(&pts, half)
                    } else {
                        pts.clone()
                    };
                    if let Some((q1, q3)) = quartiles(&shown) {
                        let what = if panel == 1 {
                            format!("{q1:+.1} to {q3:+.1} st from the call's median pitch")
                        } else {
                            format!("{q1:.1} to {q3:.1} syllables/s")
                        };
                        let _ = writeln!(
                            h,
                            "<rect class=\"{class} normal\" x=\"{LEFT}\" width=\"{PLOT_W:.1}\" \
                             y=\"{:.1}\" height=\"{:.1}\"><title>{} normal (the middle half of the call): \
                             {what}</title></rect>",
                            yv(q3),
                            (yv(q1) - yv(q3)).max(1.0),
                            self.speakers[k].as_str()
                        );
                    }
                }
                if panel == 1 {
                    // Raw pitch jumps from syllable to syllable; what the
                    // rules judge is a median over seconds.
                    let half = (TREND_S / 2.0 / self.bin_s).round() as usize;
                    polyline(h, &format!("{class} raw"), &pts, at, yv);
                    polyline(h, &format!("{class} trend"), &trend(&pts, half), at, yv);
                } else {
                    polyline(h, class, &pts, at, yv);
                }
            }
        }
        // Agitation.
        let (py, ph) = tops[4];
        let hi = self
            .agitation
            .iter()
            .map(|a| a.1)
            .fold(1.5f64, f64::max)
            .ceil();
        let yv = |v: f64| py + ph - (v / hi).clamp(0.0, 1.0) * ph;
        axis(h, LEFT, 0.0, hi, "", yv);
        let _ = writeln!(
            h,
            "<line class=\"spike\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\"/>",
            LEFT + PLOT_W,
            yv(1.0)
        );
        if !self.agitation.is_empty() {
            h.push_str("<polyline class=\"agitation\" points=\"");
            for &(t, s) in &self.agitation {
                let _ = write!(h, "{:.1},{:.1} ", x(t), yv(s));
            }
            h.push_str("\"/>\n");
        }
        // Alerts: a band while raised, a marker where raised.
        let bottom = y - gap;
        for (i, a) in self.alerts.iter().enumerate() {
            if a.state != AlertState::Raised {
                continue;
            }
            let end = self.alerts[i + 1..]
                .iter()
                .find(|b| b.kind == a.kind && b.state == AlertState::Cleared)
                .map_or(duration, |b| b.t);
            let sev = severity(a.severity);
            let _ = writeln!(
                h,
                "<g class=\"alert-marker {sev}\" data-kind=\"{kind}\" data-t=\"{t}\">\
                 <title>{clock} {kind} ({sev}): {msg}{why}</title>\
                 <rect class=\"band\" x=\"{x0:.1}\" y=\"20\" width=\"{w:.1}\" height=\"{hgt:.1}\"/>\
                 <line x1=\"{x0:.1}\" x2=\"{x0:.1}\" y1=\"14\" y2=\"{bottom:.1}\"/>\
                 <path d=\"M{x0:.1} 14 l-5 -9 h10 z\"/></g>",
                kind = a.kind.as_str(),
                t = a.t,
                clock = clock(a.t),
                msg = escape(a.message),
                why = escape(&evidence_text(&a.evidence)),
                x0 = x(a.t),
                w = (x(end) - x(a.t)).max(1.0),
                hgt = bottom - 20.0,
            );
        }
        h.push_str("</svg>\n<p class=\"legend\"><span class=\"agent\">■ agent</span> <span class=\"customer\">■ customer</span> · ▼ alert raised (shaded while it lasts; hover for the message) · light band: each party's normal (the middle half of their call) · dashed: agitation spike level</p>\n");
    }

    fn summary_table(&self, h: &mut String, s: &SummaryRecord) {
        h.push_str(
            "<h2>Summary</h2>\n<table class=\"summary\"><caption>Each party</caption>\
             <tr><th scope=\"col\"></th>",
        );
        for sp in &s.speakers {
            let _ = write!(h, "<th scope=\"col\">{}</th>", sp.speaker.as_str());
        }
        h.push_str("</tr>\n");
        let row =
            |h: &mut String,
             name: &str,
             f: &dyn Fn(&tonewatch_core::summary::SpeakerSummary) -> String| {
                let _ = write!(h, "<tr><th scope=\"row\">{name}</th>");
                for sp in &s.speakers {
                    let _ = write!(h, "<td>{}</td>", f(sp));
                }
                h.push_str("</tr>\n");
            };
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("–".to_string(), |v| format!("{v} {unit}"));
        row(h, "talk time", &|sp| clock(sp.talk_s));
        row(h, "median pitch", &|sp| opt(sp.f0_median_hz, "Hz"));
        row(h, "speaking rate", &|sp| opt(sp.rate_sps, "syll/s"));
        row(h, "median loudness", &|sp| {
            opt(sp.loudness_median_db, "dBFS")
        });
        h.push_str("</table>\n<table class=\"summary\"><caption>The call</caption>");
        let line = |h: &mut String, k: &str, v: String| {
            let _ = write!(h, "<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>");
        };
        line(h, "duration", clock(s.duration_s));
        line(
            h,
            "talk-to-listen ratio",
            s.talk_listen_ratio.map_or("–".into(), |r| r.to_string()),
        );
        line(
            h,
            "interruptions",
            format!("{} ({} s of overtalk)", s.interruptions, s.overtalk_s),
        );
        line(h, "dead air", format!("{} s", s.dead_air_s));
        line(
            h,
            "agitation peak",
            s.agitation_peak.map_or("–".into(), |p| p.to_string()),
        );
        for (k, n) in &s.alerts {
            line(h, &format!("alerts: {}", k.as_str()), n.to_string());
        }
        h.push_str("</table>\n");
    }

    fn alert_table(&self, h: &mut String) {
        h.push_str("<h2>Alerts</h2>\n");
        if self.alerts.is_empty() {
            h.push_str("<p>None.</p>\n");
            return;
        }
        h.push_str(
            "<table class=\"alerts\"><caption>Every alert, raised and cleared (click one to \
             listen from just before it)</caption><tr><th scope=\"col\">time</th>\
             <th scope=\"col\">alert</th><th scope=\"col\">state</th>\
             <th scope=\"col\">severity</th><th scope=\"col\">message</th></tr>\n",
        );
        for a in &self.alerts {
            let state = match a.state {
                AlertState::Raised => "raised",
                AlertState::Cleared => "cleared",
            };
            let _ = writeln!(
                h,
                "<tr class=\"{}\" data-t=\"{}\"><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td></tr>",
                severity(a.severity),
                a.t,
                clock(a.t),
                a.kind.as_str(),
                severity(a.severity),
                escape(a.message)
            );
        }
        h.push_str("</table>\n");
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Escalate => "escalate",
    }
}

fn axis(h: &mut String, left: f64, lo: f64, hi: f64, unit: &str, yv: impl Fn(f64) -> f64) {
    for v in [lo, (lo + hi) / 2.0, hi] {
        let _ = write!(
            h,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}{unit}</text>",
            left - 4.0,
            yv(v) + 4.0
        );
    }
    h.push('\n');
}

/// A broken line: gaps where the series has no value.
/// An alert's evidence in a line a coach reads on hover: what was measured
/// against what, in the speaker's own units where there are any.
fn evidence_text(e: &Evidence) -> String {
    let unit = e.unit.unwrap_or("");
    let mut parts = Vec::new();
    if let Some(m) = e.measured {
        parts.push(format!("measured {m} {unit}"));
    }
    if let Some(b) = e.baseline {
        parts.push(format!("usual {b} {unit}"));
    }
    if let Some(t) = e.threshold {
        parts.push(format!("raises at {t} {unit}"));
    }
    if let (Some(x), Some(from)) = (e.excursion_spreads, e.spread_from) {
        parts.push(format!("{x} of the speaker's own spreads (from {from})"));
    }
    if let Some(a) = e.accrued_spread_s {
        parts.push(format!(
            "a drift that held: {a} spread-seconds over that level"
        ));
    }
    if let Some(s) = e.sustained_s {
        parts.push(format!("held {s} s"));
    }
    if let Some(c) = e.components {
        parts.push(format!(
            "cues in units: pitch {}, effort {}, loudness {}, range {}, rate {}",
            c.pitch, c.effort, c.loudness, c.pitch_range, c.rate
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" — {}", parts.join("; "))
    }
}

/// The first and third quartiles of the values present (`None` with
/// fewer than four).
fn quartiles(pts: &[Option<f64>]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = pts.iter().flatten().copied().collect();
    if v.len() < 4 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some((at(0.25), at(0.75)))
}

/// The pitch lane's trend: a median over this many seconds around each
/// moment (the agent's rules read 10-s medians).
const TREND_S: f64 = 10.0;

/// The median of the values within `half` bins either side of each bin
/// that has one (a bin without a value stays without).
fn trend(pts: &[Option<f64>], half: usize) -> Vec<Option<f64>> {
    let mut near = Vec::with_capacity(2 * half + 1);
    pts.iter()
        .enumerate()
        .map(|(i, p)| {
            p.as_ref()?;
            near.clear();
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(pts.len());
            near.extend(pts[lo..hi].iter().flatten().copied());
            near.sort_by(f64::total_cmp);
            let n = near.len();
            Some(if n % 2 == 1 {
                near[n / 2]
            } else {
                f64::midpoint(near[n / 2 - 1], near[n / 2])
            })
        })
        .collect()
}

fn polyline(
    h: &mut String,
    class: &str,
    pts: &[Option<f64>],
    x: impl Fn(usize) -> f64,
    y: impl Fn(f64) -> f64,
) {
    let mut open = false;
    for (i, p) in pts.iter().enumerate() {
        match (p, open) {
            (Some(v), false) => {
                let _ = write!(
                    h,
                    "<polyline class=\"{class} series\" points=\"{:.1},{:.1}",
                    x(i),
                    y(*v)
                );
                open = true;
            }
            (Some(v), true) => {
                let _ = write!(h, " {:.1},{:.1}", x(i), y(*v));
            }
            (None, true) => {
                h.push_str("\"/>\n");
                open = false;
            }
            (None, false) => {}
        }
    }
    if open {
        h.push_str("\"/>\n");
    }
}

/// 1, 2 or 5 times a power of ten seconds, or whole minutes.
fn nice_step(raw: f64) -> f64 {
    let steps = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
    ];
    steps.into_iter().find(|&s| s >= raw).unwrap_or(7200.0)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Click to listen: every element with a `data-t` (markers, alert rows)
/// and the timeline itself seek the recordings to `LEAD_S` before the
/// moment; a recording that cannot be loaded shows `#missing`.
const SCRIPT: &str = "const lead=LEAD_S,dur=DURATION_S,recs=[...document.querySelectorAll('audio.rec')];\
function seek(t){for(const a of recs){a.currentTime=Math.max(0,t-lead);}if(recs[0])recs[0].play().catch(()=>{});}\
for(const e of document.querySelectorAll('[data-t]')){e.addEventListener('click',ev=>{ev.stopPropagation();seek(Number(e.dataset.t));});}\
for(const a of recs){a.addEventListener('error',()=>{document.getElementById('missing').hidden=false;});}\
const svg=document.getElementById('timeline');\
svg.addEventListener('click',ev=>{const r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal;\
const x=(ev.clientX-r.left)/r.width*vb.width,t=(x-PLOT_LEFT)/PLOT_WIDTH*dur;if(t>=0&&t<=dur)seek(t);});";

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}\
h1{font-size:20px;margin:0}h2{font-size:16px;margin:24px 0 8px}.sub{color:#666;margin:4px 0 16px}\
svg{display:block;background:#fff}.frame{fill:#fafafa;stroke:#ddd}.grid{stroke:#eee}\
.tick,.lane{font-size:11px;fill:#666}.panel{font-size:12px;fill:#333;font-weight:600}\
.series{fill:none;stroke-width:1.5}.agent{fill:#1f77b4;stroke:#1f77b4;color:#1f77b4}\
.customer{fill:#d62728;stroke:#d62728;color:#d62728}polyline.agent,polyline.customer{fill:none}\
.zero{stroke:#999;stroke-dasharray:2 3}.spike{stroke:#d62728;stroke-dasharray:4 3}\
.agitation{fill:none;stroke:#9467bd;stroke-width:1.5}\
.alert-marker line{stroke-width:1.2}.alert-marker .band{opacity:.10}\
.alert-marker.info{stroke:#2ca02c;fill:#2ca02c}.alert-marker.warn{stroke:#ff7f0e;fill:#ff7f0e}\
.alert-marker.escalate{stroke:#b00;fill:#b00}.legend{color:#555;font-size:12px}\
table{border-collapse:collapse;margin:0 16px 8px 0;display:inline-table;vertical-align:top}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}caption{text-align:left;font-weight:600;padding:4px 0}th[scope=row]{font-weight:400}\
tr.warn td:nth-child(4){color:#a34a00}tr.escalate td:nth-child(4){color:#b00;font-weight:600}\
.listen{margin:8px 0 12px}.listen audio{vertical-align:middle;height:32px}\
.missing{color:#b00;font-weight:600}.raw{opacity:.3;stroke-width:1}rect.normal{fill-opacity:.12;stroke:none}.trend{stroke-width:2.5}[data-t],#timeline{cursor:pointer}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_is_a_running_median_that_drops_a_lone_jump() {
        // A voice at 0 st that jumps to +8 st for one bin, then steps to
        // +2 st; gaps (no pitch) stay gaps.
        let mut pts = vec![Some(0.0); 6];
        pts[2] = Some(8.0);
        pts.extend([None, Some(2.0), Some(2.0), Some(2.0), Some(2.0)]);
        let got = trend(&pts, 2);
        assert_eq!(got[2], Some(0.0), "the jump is not the trend");
        assert_eq!(got[6], None);
        // Bin 7 sees bins 5..=9: 0, 2, 2, 2 (bin 6 has none): median 2.
        assert_eq!(got[7], Some(2.0));
        // Bin 5 sees 3..=7: 0, 0, 0, 2 → the mean of the middle two, 0.
        assert_eq!(got[5], Some(0.0));
        assert_eq!(got[10], Some(2.0));
    }

    #[test]
    fn axis_steps_read_well() {
        assert_eq!(nice_step(3.3), 5.0);
        assert_eq!(nice_step(360.0), 600.0);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
