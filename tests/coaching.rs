//! Coaching replay: the HTML report, looked at in headless Chromium, and
//! batch replay of a folder.

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, example, lines};

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("headless Chromium is needed: apt-get install -y chromium (as .ci/run does)")
}

fn headless(args: &[&str]) -> std::process::Output {
    // Chromium's scratch (singleton socket, profile) goes with the test.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .env("TMPDIR", scratch.path())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .unwrap();
    common::assert_ok(&out);
    out
}

#[test]
fn the_report_shows_each_raised_alert_in_a_browser() {
    let dir = scratch("report");
    let html = dir.join("call.html");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let raised: Vec<(String, f64)> = lines(&out.stdout)
        .iter()
        .filter(|r| r["type"] == "alert" && r["state"] == "raised")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["t"].as_f64().unwrap(),
            )
        })
        .collect();
    // The example raises dead air, then overtalk (tests/live_capture.rs
    // relies on the same).
    assert_eq!(
        raised.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["dead_air", "overtalk"]
    );

    // The page as Chromium built it: the timeline is there with one marker
    // per raised alert, of the right kind at the right time.
    let url = format!("file://{}", html.display());
    let dom = String::from_utf8(headless(&["--dump-dom", &url]).stdout).unwrap();
    assert!(
        dom.contains("<svg") && dom.contains("id=\"timeline\""),
        "no timeline"
    );
    let markers: Vec<&str> = dom.split("class=\"alert-marker ").skip(1).collect();
    assert_eq!(markers.len(), raised.len(), "one marker per raised alert");
    for (m, (kind, t)) in markers.iter().zip(&raised) {
        assert!(m.contains(&format!("data-kind=\"{kind}\"")), "{m}");
        assert!(m.contains(&format!("data-t=\"{t}\"")), "{m}");
    }
    // Hovering a marker says why: the evidence the alert line carried.
    let evidence: Vec<(f64, f64)> = lines(&out.stdout)
        .iter()
        .filter(|r| r["type"] == "alert" && r["state"] == "raised")
        .map(|r| {
            let e = &r["evidence"];
            (
                e["measured"].as_f64().unwrap(),
                e["threshold"].as_f64().unwrap(),
            )
        })
        .collect();
    for (m, (measured, threshold)) in markers.iter().zip(&evidence) {
        let title = &m[m.find("<title>").unwrap()..m.find("</title>").unwrap()];
        assert!(
            title.contains(&format!("measured {measured} s"))
                && title.contains(&format!("raises at {threshold} s")),
            "{title}"
        );
    }
    assert!(
        dom.contains("<th scope=\"row\">talk-to-listen ratio</th>"),
        "summary table"
    );
    // The pitch lane: each party's 10-s median trend over the faint raw
    // pitch.
    for party in ["agent", "customer"] {
        assert!(
            dom.contains(&format!("class=\"{party} trend series\"")),
            "{party} trend"
        );
        assert!(
            dom.contains(&format!("class=\"{party} raw series\"")),
            "{party} raw"
        );
        // Its normal band on the pitch and rate lanes, saying its range.
        let bands = dom.matches(&format!("class=\"{party} normal\"")).count();
        assert_eq!(bands, 2, "{party} normal bands");
        assert!(
            dom.contains(&format!("{party} normal (the middle half of the call): "))
                && dom.contains("st from the call's median pitch")
                && dom.contains("syllables/s</title>"),
            "{party} band titles"
        );
    }
    // Self-contained: nothing fetched, its script inline; the one address
    // in it is the recording's, relative to the page, for its <audio>.
    let page = std::fs::read_to_string(&html).unwrap();
    for outside in ["href=", "<link", "<script src", "@import", "url("] {
        assert!(
            !page.contains(outside),
            "the report refers outside itself: {outside}"
        );
    }
    let srcs: Vec<&str> = page
        .split(" src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(srcs.len(), 1, "{srcs:?}");
    assert!(
        !srcs[0].starts_with('/') && !srcs[0].contains(':'),
        "{srcs:?}"
    );
    assert_eq!(
        std::fs::canonicalize(dir.join(srcs[0])).unwrap(),
        std::fs::canonicalize(example()).unwrap()
    );

    // And it renders: a screenshot of the size asked for.
    let png = dir.join("call.png");
    headless(&[
        "--window-size=1280,1400",
        &format!("--screenshot={}", png.display()),
        &url,
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 1400));
}

/// Click to listen: the report plays the recording from where it is kept
/// (a name with a space and a `#`, percent-encoded in the page); clicking
/// an alert row, an alert marker or the timeline seeks it to 3 s before
/// that moment; with the recording moved away the page says so.
#[test]
fn clicking_the_report_seeks_the_recording() {
    let dir = scratch("listen");
    let wav = dir.join("call 1#a.wav");
    std::fs::copy(example(), &wav).unwrap();
    let html = dir.join("call.html");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&wav)
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let raised: Vec<f64> = lines(&out.stdout)
        .iter()
        .filter(|r| r["type"] == "alert" && r["state"] == "raised")
        .map(|r| r["t"].as_f64().unwrap())
        .collect();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("src=\"call%201%23a.wav\""),
        "{}",
        &page[..2000]
    );

    let browser = common::Browser::start();
    browser.open(&format!("file://{}", html.display()));
    // The recording loads (its length read), and nothing says it is missing.
    browser.wait_for(
        "return document.querySelector('audio.rec').readyState",
        |state| *state != 0,
        "the recording never loaded",
    );
    let duration = browser.run("return document.querySelector('audio.rec').duration");
    assert!(
        (duration.as_f64().unwrap() - 32.59).abs() < 0.1,
        "{duration}"
    );
    assert_eq!(
        browser.run("return document.getElementById('missing').hidden"),
        true
    );
    // Each click sets the position at once; read it before playback moves it.
    let seek = |target: &str| {
        browser
            .run(&format!(
                "const a=document.querySelector('audio.rec');{target}.dispatchEvent(new MouseEvent('click',{{bubbles:true}}));\
                 const t=a.currentTime;a.pause();return t;"
            ))
            .as_f64()
            .unwrap()
    };
    let row = seek("document.querySelector('tr[data-t]')");
    assert!(
        (row - (raised[0] - 3.0)).abs() < 0.01,
        "row: {row} for {}",
        raised[0]
    );
    let marker = seek("document.querySelectorAll('.alert-marker')[1]");
    assert!(
        (marker - (raised[1] - 3.0)).abs() < 0.01,
        "marker: {marker} for {}",
        raised[1]
    );
    // The middle of the plots is the middle of the call.
    let middle = browser
        .run(
            "const s=document.getElementById('timeline'),r=s.getBoundingClientRect(),\
             vb=s.viewBox.baseVal,x=r.left+(70+(vb.width-80)/2)/vb.width*r.width;\
             s.dispatchEvent(new MouseEvent('click',{clientX:x,clientY:r.top+10,bubbles:true}));\
             const a=document.querySelector('audio.rec');const t=a.currentTime;a.pause();return t;",
        )
        .as_f64()
        .unwrap();
    assert!(
        (middle - (32.59 / 2.0 - 3.0)).abs() < 0.2,
        "timeline: {middle}"
    );

    // Moved away from the recording: the page says it cannot play it.
    std::fs::rename(&wav, dir.join("elsewhere.wav")).unwrap();
    browser.open(&format!("file://{}", html.display()));
    browser.wait_for(
        "return document.getElementById('missing').hidden",
        |hidden| *hidden != true,
        "no word of the missing recording",
    );
    let said = browser.run("return document.getElementById('missing').textContent");
    assert!(
        said.as_str().unwrap().contains("call%201%23a.wav"),
        "{said}"
    );
}

#[test]
fn a_folder_is_replayed_in_parallel_and_a_bad_file_is_skipped() {
    let calls = scratch("batch-in");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("batch-out");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::copy(example(), calls.join("first.wav")).unwrap();
    std::fs::copy(example(), calls.join("second.WAV")).unwrap();
    std::fs::write(calls.join("broken.wav"), b"RIFF....not really").unwrap();
    std::fs::write(calls.join("notes.txt"), b"not a call").unwrap();

    let single = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .output()
        .unwrap();
    let want = lines(&single.stdout).pop().unwrap();

    let out = Command::new(BIN)
        .arg("replay")
        .arg(&calls)
        .arg("--out")
        .arg(&out_dir)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "some failed: {stderr}");
    assert!(stderr.contains("broken.wav"), "{stderr}");
    assert!(stderr.contains("2 of 3 calls"), "{stderr}");

    for name in ["first", "second"] {
        let got = lines(&std::fs::read(out_dir.join(format!("{name}.jsonl"))).unwrap());
        assert_eq!(
            got.last().unwrap(),
            &want,
            "{name}: same summary as a single replay"
        );
        let html = std::fs::read_to_string(out_dir.join(format!("{name}.html"))).unwrap();
        assert_eq!(html.matches("class=\"alert-marker ").count(), 2);
    }
    assert!(!out_dir.join("broken.jsonl").exists());

    let csv = std::fs::read_to_string(out_dir.join("calls.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "{csv}");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let by_file = |f: &str| rows.iter().find(|r| r[0].ends_with(f)).unwrap();
    assert_eq!(by_file("broken.wav")[col("status")], "error");
    assert!(by_file("broken.wav")[col("error")].contains("broken.wav"));
    for f in ["first.wav", "second.WAV"] {
        let r = by_file(f);
        assert_eq!(r[col("status")], "ok");
        assert_eq!(r[col("duration_s")], want["duration_s"].to_string());
        assert_eq!(r[col("dead_air_s")], want["dead_air_s"].to_string());
        assert_eq!(r[col("alerts_overtalk")], "1");
        assert_eq!(r[col("alerts_dead_air")], "1");
    }
}

#[test]
fn a_folder_needs_somewhere_to_put_the_results() {
    let calls = scratch("batch-no-out");
    std::fs::copy(example(), calls.join("a.wav")).unwrap();
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&calls)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
    let empty = scratch("batch-empty");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&empty)
        .args(["--out", "/tmp/unused"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .wav files"));
}

/// `x.wav` and `x.WAV` would both write `x.jsonl`: refused before any
/// call is analysed, both names given, nothing written.
#[test]
fn files_whose_results_would_share_a_name_are_refused_first() {
    let dir = scratch("batch-clash");
    let calls = dir.join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    for name in ["x.wav", "x.WAV", "y.wav"] {
        std::fs::copy(example(), calls.join(name)).unwrap();
    }
    let out_dir = dir.join("out");
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&calls)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("x.WAV and x.wav would all write x.jsonl"),
        "{err}"
    );
    assert!(!out_dir.exists(), "something was written");
}

/// SIGTERM mid-batch over an earlier run's results: the calls under way
/// finish, no new one starts, every result file is whole (its last line
/// the summary), nothing partial is left, and calls.csv says which calls
/// were not analysed; exit code 130.
#[test]
fn a_batch_stopped_midway_leaves_no_file_that_looks_complete_but_is_not() {
    use std::io::Read as _;
    let dir = scratch("batch-term");
    let calls = dir.join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    // Calls ten times the example's length, so the batch takes a while.
    let long = dir.join("long.wav");
    let made = Command::new("sox")
        .args(std::iter::repeat_n(example(), 10))
        .arg(&long)
        .output()
        .expect("sox is needed: apt-get install -y sox (as .ci/run does)");
    common::assert_ok(&made);
    for i in 0..24 {
        std::fs::copy(&long, calls.join(format!("call{i:02}.wav"))).unwrap();
    }
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    // An earlier run's calls.csv that says all is well.
    std::fs::write(out_dir.join("calls.csv"), "file,status\nold,ok\n").unwrap();
    let mut child = Command::new(BIN)
        .arg("replay")
        .arg(&calls)
        .arg("--out")
        .arg(&out_dir)
        .args(["--jobs", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !out_dir.join("call00.jsonl").exists() && !out_dir.join("call01.jsonl").exists() {
        assert!(std::time::Instant::now() < deadline, "no call finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("tonewatch: stopped: "), "{err}");

    let csv = std::fs::read_to_string(out_dir.join("calls.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 24, "{csv}");
    let ok: Vec<&str> = rows
        .iter()
        .filter(|r| r.contains(",ok,"))
        .copied()
        .collect();
    let interrupted = rows.iter().filter(|r| r.contains(",interrupted,")).count();
    assert!(!ok.is_empty() && interrupted > 0, "{csv}");
    assert_eq!(ok.len() + interrupted, 24, "{csv}");
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "left behind: {name}");
        if name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            let records = lines(text.as_bytes());
            assert_eq!(records.last().unwrap()["type"], "summary", "{name} is cut");
            let stem = name.trim_end_matches(".jsonl");
            assert!(
                ok.iter().any(|r| r.contains(&format!("{stem}.wav"))),
                "{name} not ok in calls.csv"
            );
        }
    }
    let jsonl = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "jsonl")
        })
        .count();
    assert_eq!(jsonl, ok.len());
}

/// Text contrast and labels, checked in the page (WCAG 2 AA: 4.5:1 for
/// text, its colour blended by opacity over the nearest background; every
/// chart an image with a label, every table a caption and scoped headers,
/// every control a label, the page a language). Returns what fails.
const ACCESSIBILITY: &str = r#"
const rgba=c=>{const m=(c.match(/[\d.]+/g)||[]).map(Number);return [m[0],m[1],m[2],m.length>3?m[3]:1]};
const bgOf=el=>{for(let e=el;e;e=e.parentElement){const c=rgba(getComputedStyle(e).backgroundColor);if(c[3]>0)return c;}return [255,255,255,1]};
const lin=v=>{v/=255;return v<=0.03928?v/12.92:Math.pow((v+0.055)/1.055,2.4)};
const lum=c=>0.2126*lin(c[0])+0.7152*lin(c[1])+0.0722*lin(c[2]);
const bad=[];
for(const el of document.querySelectorAll('body *')){
  if(el.tagName.toLowerCase()==='title'||![...el.childNodes].some(n=>n.nodeType===3&&n.textContent.trim()))continue;
  const st=getComputedStyle(el);
  if(st.display==='none'||st.visibility==='hidden')continue;
  const fgc=el instanceof SVGElement?st.fill:st.color;
  if(!fgc||!fgc.startsWith('rgb'))continue;
  let a=rgba(fgc)[3];for(let e=el;e;e=e.parentElement)a*=parseFloat(getComputedStyle(e).opacity);
  const bg=bgOf(el),f=rgba(fgc),mix=[0,1,2].map(i=>a*f[i]+(1-a)*bg[i]);
  const l1=lum(mix),l2=lum(bg),r=(Math.max(l1,l2)+0.05)/(Math.min(l1,l2)+0.05);
  if(r<4.5)bad.push(`contrast ${r.toFixed(2)}: <${el.tagName.toLowerCase()}> ${el.textContent.trim().slice(0,40)}`);
}
for(const s of document.querySelectorAll('svg'))if(s.getAttribute('role')!=='img'||!s.getAttribute('aria-label'))bad.push('an svg without role=img and a label');
for(const t of document.querySelectorAll('table'))if(!t.querySelector('caption'))bad.push('a table without a caption');
for(const th of document.querySelectorAll('th'))if(!th.getAttribute('scope'))bad.push('a th without scope: '+th.textContent);
for(const c of document.querySelectorAll('audio,input,select,button,textarea'))if(!c.closest('label')&&!c.getAttribute('aria-label'))bad.push('an unlabelled '+c.tagName.toLowerCase());
if(!document.documentElement.lang)bad.push('no lang on the page');
return bad;"#;

/// A folder of calls by two agents over two weeks: `tonewatch trends`
/// counts each agent's calls per week as calls.csv has them (and their
/// overtalk alerts), keeps the agents' own voice out unless asked, maps
/// files to agents from a CSV, and its page shows both agents in headless
/// Chromium, passing the accessibility check — as does the call report.
#[test]
fn trends_count_each_agents_calls_and_read_well() {
    let calls = scratch("trends-in");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trends-out");
    let _ = std::fs::remove_dir_all(&out_dir);
    // Sam: two calls in the week of Monday 23 November, one in the next;
    // Ana: two in the week of 30 November.
    for name in [
        "sam_2026-11-23_a",
        "sam_2026-11-25_b",
        "sam_2026-11-30_c",
        "ana_2026-11-30_a",
        "ana_2026-12-06_b",
    ] {
        std::fs::copy(example(), calls.join(format!("{name}.wav"))).unwrap();
    }
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&calls)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let trends = |extra: &[&str]| {
        let out = Command::new(BIN)
            .arg("trends")
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap();
        common::assert_ok(&out);
        std::fs::read_to_string(out_dir.join("trends.csv")).unwrap()
    };
    let table = |csv: &str| -> Vec<std::collections::HashMap<String, String>> {
        let mut rows = csv.lines().map(|l| l.split(',').map(str::to_string));
        let header: Vec<String> = rows.next().unwrap().collect();
        rows.map(|r| header.iter().cloned().zip(r).collect())
            .collect()
    };
    // calls.csv, written by the batch, is the independent count.
    let batch = std::fs::read_to_string(out_dir.join("calls.csv")).unwrap();
    let batch = table(&batch);
    let overtalk_of = |prefix: &[&str]| -> u32 {
        batch
            .iter()
            .filter(|r| prefix.iter().any(|p| r["file"].contains(p)))
            .map(|r| r["alerts_overtalk"].parse::<u32>().unwrap())
            .sum()
    };

    let private = table(&trends(&[]));
    assert!(!private[0].contains_key("agent_pace_per_h"), "{private:?}");
    assert!(!private[0].contains_key("agent_f0_median_hz"));
    let weeks: Vec<(String, String, String)> = private
        .iter()
        .map(|r| (r["agent"].clone(), r["week"].clone(), r["calls"].clone()))
        .collect();
    let w = |a: &str, d: &str, n: &str| (a.to_string(), d.to_string(), n.to_string());
    assert_eq!(
        weeks,
        [
            w("ana", "2026-11-30", "2"),
            w("sam", "2026-11-23", "2"),
            w("sam", "2026-11-30", "1")
        ]
    );
    for (r, files) in private.iter().zip([
        &["ana_"][..],
        &["sam_2026-11-23", "sam_2026-11-25"],
        &["sam_2026-11-30"],
    ]) {
        let per_h: f64 = r["overtalk_per_h"].parse().unwrap();
        let hours: f64 = r["call_h"].parse().unwrap();
        let n = f64::from(overtalk_of(files));
        assert!(
            (per_h * hours - n).abs() < 0.05 * n.max(1.0),
            "{r:?} vs {n}"
        );
    }

    let mapping = calls.join("agents.csv");
    std::fs::write(&mapping, "file,agent\nana_2026-11-30_a.wav,sam\n").unwrap();
    let mapped = table(&trends(&[
        "--agents",
        mapping.to_str().unwrap(),
        "--agent-voice",
    ]));
    assert!(mapped[0].contains_key("agent_pace_per_h"));
    let sam_calls: u32 = mapped
        .iter()
        .filter(|r| r["agent"] == "sam")
        .map(|r| r["calls"].parse::<u32>().unwrap())
        .sum();
    assert_eq!(sam_calls, 4);

    trends(&["--agent-voice"]);
    let browser = common::Browser::start();
    browser.open(&format!("file://{}", out_dir.join("trends.html").display()));
    let shown = browser.run(
        "return [...document.querySelectorAll('section[data-agent]')].map(s=>[s.dataset.agent,s.dataset.calls,s.querySelectorAll('svg[role=img]').length]);",
    );
    assert_eq!(shown, serde_json::json!([["ana", "2", 2], ["sam", "3", 2]]));
    let bad = browser.run(ACCESSIBILITY);
    assert_eq!(bad, serde_json::json!([]), "trends.html");
    browser.open(&format!(
        "file://{}",
        out_dir.join("sam_2026-11-23_a.html").display()
    ));
    let bad = browser.run(ACCESSIBILITY);
    assert_eq!(bad, serde_json::json!([]), "the call report");
}
