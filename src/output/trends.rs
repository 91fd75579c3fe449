//! Each agent's trend across calls (`tonewatch trends`): the summaries of
//! many replayed calls (`replay DIR --out OUT` writes one `NAME.jsonl` per
//! call) grouped by agent and by week, as `trends.csv` and one
//! self-contained `trends.html`.
//!
//! Per agent and week (weeks start on Monday): calls, talk time, alerts per
//! hour of talk by kind (the agent's own per hour of *their* talk, the
//! customer's per hour of the customer's, the rest per hour of call), the
//! talk-to-listen ratio, customer agitation heard and escalations. The
//! agent's own voice (their alert rates, pitch and rate medians, hard
//! calls) is theirs and their coach's: it is left out unless asked for.
//!
//! Who and when come from the file name: the agent is the part before the
//! first `_` (`sam_2026-11-30_0915.jsonl` is Sam's), unless one name is
//! given for all or a CSV maps files to agents; the day is the first
//! `YYYY-MM-DD` in the name, else the file's modification day (UTC).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tonewatch_core::alerts::AlertKind;

/// One analysed call, as the trends need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// The per-call output it was read from.
    pub file: PathBuf,
    /// Whose call.
    pub agent: String,
    /// Its day, as days since 1970-01-01.
    pub day: i64,
    /// Length (s).
    pub duration_s: f64,
    /// The agent's and the customer's talk (s).
    pub agent_talk_s: f64,
    /// See `agent_talk_s`.
    pub customer_talk_s: f64,
    /// The agent's median pitch over the call (Hz).
    pub agent_f0_hz: Option<f64>,
    /// The agent's syllables per second of talk over the call.
    pub agent_rate_sps: Option<f64>,
    /// Alerts raised, by kind.
    pub alerts: BTreeMap<AlertKind, u32>,
    /// Seconds the customer's agitation alert was up.
    pub agitation_s: f64,
    /// Escalations to the supervisor.
    pub escalations: u32,
}

impl CallRow {
    /// A hard call: escalated, or the customer agitated
    /// longer than `hard_agitation_s` (as `[wellbeing]` says for live's recovery
    /// nudge).
    #[must_use]
    pub fn hard(&self, hard_agitation_s: f64) -> bool {
        self.escalations > 0 || self.agitation_s > hard_agitation_s
    }
}

/// How calls are assigned to agents.
#[derive(Debug, Clone, Default)]
pub enum Agents {
    /// The part of the file name before its first `_`.
    #[default]
    FromFileName,
    /// Every call is this agent's.
    One(String),
    /// File stem (without extension) → agent; others by file name.
    Map(HashMap<String, String>),
}

impl Agents {
    /// Reads a `file,agent` CSV (a header line `file,agent` is skipped;
    /// the file named with or without its folder and extension).
    ///
    /// # Errors
    /// Unreadable, or a line without two fields.
    pub fn from_csv(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut map = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || (n == 0 && line.eq_ignore_ascii_case("file,agent")) {
                continue;
            }
            let Some((file, agent)) = line.split_once(',') else {
                return Err(format!(
                    "{} line {}: want `file,agent`, got {line:?}",
                    path.display(),
                    n + 1
                ));
            };
            map.insert(stem(Path::new(file.trim())), agent.trim().to_string());
        }
        Ok(Self::Map(map))
    }

    fn of(&self, file: &Path) -> String {
        let stem = stem(file);
        match self {
            Self::One(name) => name.clone(),
            Self::Map(map) if map.contains_key(&stem) => map[&stem].clone(),
            _ => stem
                .split_once('_')
                .map_or_else(|| stem.clone(), |(a, _)| a.to_string()),
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every call summarised in the `*.jsonl` files of `dir` (one row per
/// `summary` line: a stream of calls gives several). Files without a
/// summary (a failed call) are returned apart.
///
/// # Errors
/// The folder cannot be read.
pub fn read_folder(dir: &Path, agents: &Agents) -> std::io::Result<(Vec<CallRow>, Vec<PathBuf>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            skipped.push(file);
            continue;
        };
        let day = day_in_name(&stem(&file)).or_else(|| modified_day(&file));
        let mut found = false;
        for line in text.lines().filter(|l| l.contains("\"summary\"")) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["type"] != "summary" {
                continue;
            }
            if let Some(row) = row_of(&v, &file, agents, day.unwrap_or(0)) {
                rows.push(row);
                found = true;
            }
        }
        if !found {
            skipped.push(file);
        }
    }
    Ok((rows, skipped))
}

fn row_of(v: &serde_json::Value, file: &Path, agents: &Agents, day: i64) -> Option<CallRow> {
    let speaker = |who: &str| {
        v["speakers"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["speaker"] == who))
    };
    let talk = |who| {
        speaker(who)
            .and_then(|s| s["talk_s"].as_f64())
            .unwrap_or(0.0)
    };
    let alerts = v["alerts"]
        .as_object()?
        .iter()
        .filter_map(|(k, n)| {
            let kind = AlertKind::ALL.into_iter().find(|a| a.as_str() == k)?;
            Some((kind, u32::try_from(n.as_u64()?).ok()?))
        })
        .collect();
    Some(CallRow {
        file: file.to_path_buf(),
        agent: agents.of(file),
        day,
        duration_s: v["duration_s"].as_f64()?,
        agent_talk_s: talk("agent"),
        customer_talk_s: talk("customer"),
        agent_f0_hz: speaker("agent").and_then(|s| s["f0_median_hz"].as_f64()),
        agent_rate_sps: speaker("agent").and_then(|s| s["rate_sps"].as_f64()),
        alerts,
        agitation_s: v["agitation_s"].as_f64().unwrap_or(0.0),
        escalations: v["escalations"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
    })
}

/// The first `YYYY-MM-DD` in `name`, as days since 1970-01-01.
fn day_in_name(name: &str) -> Option<i64> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let s = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
        if !(digits(0..4) && s[4] == b'-' && digits(5..7) && s[7] == b'-' && digits(8..10)) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| std::str::from_utf8(&s[r]).ok()?.parse::<i64>().ok();
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
    })
}

fn modified_day(file: &Path) -> Option<i64> {
    let t = std::fs::metadata(file).ok()?.modified().ok()?;
    let s = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(s / 86_400).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`; no date crate needed for this one sum).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day since 1970-01-01 (the inverse).
#[must_use]
pub fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The Monday on or before `day`.
fn week_of(day: i64) -> i64 {
    // 1970-01-01 was a Thursday: Monday is 3 days before it.
    day - (day + 3).rem_euclid(7)
}

/// One agent's week.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// Whose.
    pub agent: String,
    /// Its Monday, days since 1970-01-01.
    pub monday: i64,
    /// Calls.
    pub calls: usize,
    /// Hours of call, of the agent's talk and of the customer's.
    pub call_h: f64,
    /// See `call_h`.
    pub agent_talk_h: f64,
    /// See `call_h`.
    pub customer_talk_h: f64,
    /// Alerts by kind.
    pub alerts: BTreeMap<AlertKind, u32>,
    /// The median over calls of the talk-to-listen ratio.
    pub talk_listen: Option<f64>,
    /// Medians over calls of the agent's pitch and rate.
    pub agent_f0_hz: Option<f64>,
    /// See `agent_f0_hz`.
    pub agent_rate_sps: Option<f64>,
    /// Minutes of customer agitation heard.
    pub agitation_min: f64,
    /// Escalations.
    pub escalations: u32,
    /// Hard calls.
    pub hard_calls: usize,
}

impl Week {
    /// Alerts of `kind` per hour of the talk it is about: the agent's own
    /// per hour of the agent's talk, the customer's per hour of theirs,
    /// the rest per hour of call.
    #[must_use]
    pub fn rate(&self, kind: AlertKind) -> Option<f64> {
        let hours = match kind.as_str() {
            k if k.starts_with("agent_") && k != "agent_monologue" => self.agent_talk_h,
            k if k.starts_with("customer_") => self.customer_talk_h,
            _ => self.call_h,
        };
        let n = f64::from(self.alerts.get(&kind).copied().unwrap_or(0));
        (hours > 0.0).then(|| n / hours)
    }
}

/// Whether an alert kind is about the agent's own voice (private).
#[must_use]
pub fn agent_voice(kind: AlertKind) -> bool {
    matches!(
        kind,
        AlertKind::AgentPace | AlertKind::AgentPitch | AlertKind::AgentVolume
    )
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    })
}

/// The rows grouped by agent and week, in that order.
#[must_use]
pub fn weeks(rows: &[CallRow], hard_agitation_s: f64) -> Vec<Week> {
    let mut groups: BTreeMap<(String, i64), Vec<&CallRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.agent.clone(), week_of(r.day)))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((agent, monday), calls)| {
            let mut alerts = BTreeMap::new();
            for c in &calls {
                for (k, n) in &c.alerts {
                    *alerts.entry(*k).or_insert(0) += n;
                }
            }
            let sum = |f: fn(&CallRow) -> f64| calls.iter().map(|c| f(c)).sum::<f64>();
            Week {
                agent,
                monday,
                calls: calls.len(),
                call_h: sum(|c| c.duration_s) / 3600.0,
                agent_talk_h: sum(|c| c.agent_talk_s) / 3600.0,
                customer_talk_h: sum(|c| c.customer_talk_s) / 3600.0,
                alerts,
                talk_listen: median(
                    calls
                        .iter()
                        .filter(|c| c.customer_talk_s > 0.0)
                        .map(|c| c.agent_talk_s / c.customer_talk_s)
                        .collect(),
                ),
                agent_f0_hz: median(calls.iter().filter_map(|c| c.agent_f0_hz).collect()),
                agent_rate_sps: median(calls.iter().filter_map(|c| c.agent_rate_sps).collect()),
                agitation_min: sum(|c| c.agitation_s) / 60.0,
                escalations: calls.iter().map(|c| c.escalations).sum(),
                hard_calls: calls.iter().filter(|c| c.hard(hard_agitation_s)).count(),
            }
        })
        .collect()
}

/// The kinds shown: all, or all but the agent's own voice.
fn kinds(with_agent_voice: bool) -> impl Iterator<Item = AlertKind> {
    AlertKind::ALL
        .into_iter()
        .filter(move |k| with_agent_voice || !agent_voice(*k))
}

fn opt(v: Option<f64>, places: usize) -> String {
    v.map_or_else(String::new, |v| format!("{v:.places$}"))
}

/// `s` as one CSV field (quoted when it holds a comma, quote or newline).
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `trends.csv`: a row per agent and week.
#[must_use]
pub fn csv(weeks: &[Week], with_agent_voice: bool) -> String {
    let mut out = String::from("agent,week,calls,call_h,agent_talk_h,customer_talk_h");
    for k in kinds(with_agent_voice) {
        let _ = write!(out, ",{}_per_h", k.as_str());
    }
    out.push_str(",talk_listen_ratio,agitation_min,escalations");
    if with_agent_voice {
        out.push_str(",agent_f0_median_hz,agent_rate_sps,hard_calls");
    }
    out.push('\n');
    for w in weeks {
        let _ = write!(
            out,
            "{},{},{},{:.3},{:.3},{:.3}",
            csv_field(&w.agent),
            civil(w.monday),
            w.calls,
            w.call_h,
            w.agent_talk_h,
            w.customer_talk_h
        );
        for k in kinds(with_agent_voice) {
            let _ = write!(out, ",{}", opt(w.rate(k), 2));
        }
        let _ = write!(
            out,
            ",{},{:.2},{}",
            opt(w.talk_listen, 2),
            w.agitation_min,
            w.escalations
        );
        if with_agent_voice {
            let _ = write!(
                out,
                ",{},{},{}",
                opt(w.agent_f0_hz, 1),
                opt(w.agent_rate_sps, 2),
                w.hard_calls
            );
        }
        out.push('\n');
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small line chart of `points` (day, value) with its label for screen
/// readers; empty when there are fewer than two.
fn chart(title: &str, unit: &str, points: &[(i64, f64)]) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let (w, h, pad) = (420.0, 120.0, 28.0);
    let (d0, d1) = (points[0].0, points[points.len() - 1].0);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let span = (hi - lo).max(1e-9);
    let dx = ((d1 - d0) as f64).max(1.0);
    let mut path = String::new();
    for (i, (d, v)) in points.iter().enumerate() {
        let x = pad + (w - 2.0 * pad) * (*d - d0) as f64 / dx;
        let y = h - pad - (h - 2.0 * pad) * (v - lo) / span;
        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    format!(
        "<figure><svg role=\"img\" aria-label=\"{t}: from {lo:.1} to {hi:.1} {u} over {n} calls, {a} to {b}\" \
         viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><path class=\"line\" d=\"{path}\"/>\
         <text x=\"2\" y=\"{ty:.0}\">{lo:.1}</text><text x=\"2\" y=\"14\">{hi:.1}</text></svg>\
         <figcaption>{t} ({u}), call by call</figcaption></figure>",
        t = esc(title),
        u = esc(unit),
        n = points.len(),
        a = civil(d0),
        b = civil(d1),
        ty = h - pad + 4.0,
    )
}

/// `trends.html`: one section per agent, its weeks in a table, and (with
/// the agent's voice) their pitch and rate call by call.
#[must_use]
pub fn html(rows: &[CallRow], weeks: &[Week], with_agent_voice: bool) -> String {
    let mut agents: Vec<&str> = weeks.iter().map(|w| w.agent.as_str()).collect();
    agents.dedup();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Trends across calls</h1><p>{} calls of {} agents. Weeks start on Monday; alert \
         rates are per hour of the talk they are about (the agent's, the customer's, or the \
         call's).</p>",
        rows.len(),
        agents.len()
    );
    body.push_str(if with_agent_voice {
        "<p class=\"private\">Includes each agent's own voice (their alerts, pitch, rate and hard \
         calls): for the agent and their coach only.</p>"
    } else {
        "<p>The agents' own voice (their pitch and pace alerts, pitch, rate, hard calls) is left \
         out: it is theirs and their coach's (<code>--agent-voice</code> adds it).</p>"
    });
    for agent in agents {
        let mine: Vec<&Week> = weeks.iter().filter(|w| w.agent == agent).collect();
        let calls: usize = mine.iter().map(|w| w.calls).sum();
        let id = format!(
            "agent-{}",
            agent
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        );
        let _ = write!(
            body,
            "<section aria-labelledby=\"{id}\" data-agent=\"{a}\" data-calls=\"{calls}\">\
             <h2 id=\"{id}\">{a}: {calls} calls</h2><table><caption>{a}, week by week</caption>\
             <thead><tr><th scope=\"col\">Week of</th><th scope=\"col\">Calls</th>\
             <th scope=\"col\">Talk (min)</th><th scope=\"col\">Talk : listen</th>",
            a = esc(agent)
        );
        for k in kinds(with_agent_voice) {
            let _ = write!(body, "<th scope=\"col\">{} /h</th>", esc(k.as_str()));
        }
        body.push_str(
            "<th scope=\"col\">Agitation heard (min)</th><th scope=\"col\">Escalations</th>",
        );
        if with_agent_voice {
            body.push_str(
                "<th scope=\"col\">Pitch (Hz)</th><th scope=\"col\">Rate (syll/s)</th>\
                 <th scope=\"col\">Hard calls</th>",
            );
        }
        body.push_str("</tr></thead><tbody>");
        for w in &mine {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{:.1}</td><td>{}</td>",
                civil(w.monday),
                w.calls,
                w.agent_talk_h * 60.0,
                opt(w.talk_listen, 2)
            );
            for k in kinds(with_agent_voice) {
                let _ = write!(body, "<td>{}</td>", opt(w.rate(k), 1));
            }
            let _ = write!(
                body,
                "<td>{:.1}</td><td>{}</td>",
                w.agitation_min, w.escalations
            );
            if with_agent_voice {
                let _ = write!(
                    body,
                    "<td>{}</td><td>{}</td><td>{}</td>",
                    opt(w.agent_f0_hz, 0),
                    opt(w.agent_rate_sps, 2),
                    w.hard_calls
                );
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table>");
        if with_agent_voice {
            let mut own: Vec<&CallRow> = rows.iter().filter(|r| r.agent == agent).collect();
            own.sort_by_key(|r| r.day);
            let points = |f: fn(&CallRow) -> Option<f64>| -> Vec<(i64, f64)> {
                own.iter().filter_map(|r| Some((r.day, f(r)?))).collect()
            };
            body.push_str(&chart("Median pitch", "Hz", &points(|r| r.agent_f0_hz)));
            body.push_str(&chart(
                "Speaking rate",
                "syllables/s",
                &points(|r| r.agent_rate_sps),
            ));
        }
        body.push_str("</section>");
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>tonewatch: trends across calls</title>\
         <style>{CSS}</style></head><body><main>{body}</main></body></html>\n"
    )
}

/// Colours chosen for contrast (text ≥ 4.5:1 on its background, WCAG AA).
const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:24px}\
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #767676;padding:3px 8px;text-align:right}\
thead th{background:#f0f0f0}caption{text-align:left;font-weight:600;padding:4px 0}\
.private{color:#8a1c00;font-weight:600}figure{display:inline-block;margin:0 16px 16px 0}\
svg .line{fill:none;stroke:#1f5fa8;stroke-width:2}svg text{font-size:11px;fill:#1a1a1a}\
code{background:#f0f0f0;padding:0 3px}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_weeks_are_the_calendars() {
        // Hand-checked: 2026-11-30 is a Monday, 20,787 days after 1970-01-01 (`date -d 2026-11-30 +%s` / 86400).
        assert_eq!(days_from_civil(2026, 11, 30), 20_787);
        assert_eq!(civil(20_787), "2026-11-30");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil(days_from_civil(2024, 2, 29)), "2024-02-29");
        // Sunday 2026-12-06 belongs to the week of Monday 2026-11-30.
        assert_eq!(week_of(days_from_civil(2026, 12, 6)), 20_787);
        assert_eq!(week_of(days_from_civil(2026, 12, 7)), 20_794);
        assert_eq!(day_in_name("sam_2026-11-30_0915"), Some(20_787));
        assert_eq!(day_in_name("sam_2026-13-30"), None);
        assert_eq!(day_in_name("sam"), None);
    }

    #[test]
    fn agents_come_from_the_name_one_name_or_a_map() {
        let f = Path::new("/out/sam_2026-11-30_0915.jsonl");
        assert_eq!(Agents::FromFileName.of(f), "sam");
        assert_eq!(Agents::One("ana".into()).of(f), "ana");
        let map = Agents::Map(HashMap::from([(
            "sam_2026-11-30_0915".into(),
            "samuel".into(),
        )]));
        assert_eq!(map.of(f), "samuel");
        assert_eq!(map.of(Path::new("ben_x.jsonl")), "ben");
    }
}
