#!/usr/bin/env python3
"""Agent alerts on real voices: false alerts on calm speech, and drifts
caught, with truth made from real recordings.

    benches/eval/real_drift.py DATA [--split tune|report|all] [--bin PATH]
                               [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Speakers with a minute or more of calm speech (the
LibriSpeech test-other readers and the neutral readings of nEMO and TESS,
21 speakers) are each joined into one "agent" track at 8 kHz, utterance
after utterance with 0.6 s pauses, read `--repeat` times over (2: 2-5 min). `--split` keeps the speakers of that
half of each set's `split` column: tune on one half, report the other.

- Calm (negative controls): the track as it is, replayed as the agent and
  as the customer. Every raised pace, pitch, volume or agitation alert is
  a false alert; the figure is alerts per hour of audio. Again with the
  track made at 16 kHz (wide band, as a softphone or a recording brings
  it): the same speech, a second rendering; an alert that stood at its
  threshold in one shows up in the other.
- Drifts (positives): the same track with every utterance from about 40 %
  of the way in (at least `--drift-from`, 60 s) pitch-shifted (sox `pitch`, tempo kept) by
  +200/+300 cents or time-stretched (sox `tempo`, pitch kept) by 1.15/1.25.
  Recall is the share of tracks where the matching alert (agent_pitch,
  agent_pace) is raised after the drift starts; latency is from the drift's
  start to the raise, in seconds of audio.
- Early drifts: the same shifts from the first utterance after `--early-from`
  (20 s), so they fall in the first minute of the call, where the baseline
  is still being learned: without a profile, and with the speaker's profile
  from a replay of their calm track (`--profile`, as yesterday's calls
  would leave it). Recall, latency, and alerts raised before the drift.
- Calm with a profile: the calm track replayed as the agent with that
  profile, so the rules are judged from the first seconds of the call;
  every raised alert is a false alert. (The profile is of the same
  speech, the kindest case: a profile from other calls differs more.)
- Real calls (no split: too few to halve): `calls/auto_repairs_40` (both
  parties, and again with their roles swapped: its lively customer as the
  agent) and `calls/agent_monologues` (as the agent, and as the
  customer), all alerts listed.

`--line COND` passes every made track (calm, drifted, early) through one of
line_conditions.py's conditions first (`ulaw`: the telephone band), as a
phone line would bring the agent; the 16 kHz rendering is left out then,
and the real calls are taken as recorded.

Needs sox and a release build (cargo build --release).
"""

import argparse
import collections
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

PAUSE_S = 0.6
RATE = 8000
WIDE_RATE = 16000
AGENT_KINDS = ("agent_pace", "agent_pitch", "agent_volume")


def speakers(data, split):
    """{speaker: [utterance paths]} of calm speech, in file order."""
    out = collections.OrderedDict()
    sets = [
        ("speakers/librispeech_test_other", lambda r: True),
        ("emotion/nemo_pl", lambda r: r["emotion"] == "neutral"),
        ("emotion/tess", lambda r: r["emotion"] == "neutral"),
    ]
    for folder, keep in sets:
        with open(os.path.join(data, folder, "index.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if not keep(r) or (split != "all" and r["split"] != split):
                    continue
                name = f"{os.path.basename(folder)}:{r['speaker']}"
                out.setdefault(name, []).append(os.path.join(data, folder, r["file"]))
    return out


def sox(*args):
    subprocess.run(["sox", "-R", *map(str, args)], check=True, stderr=subprocess.DEVNULL)


def duration(path):
    r = subprocess.run(["soxi", "-D", path], check=True, capture_output=True, text=True)
    return float(r.stdout)


def utterance(cache, name, i, src, effect=None, rate=RATE):
    """Utterance `i` (file `src`) of speaker `name`, mono at `rate`, with
    sox `effect` when given; rendered once into `cache`."""
    wide = "" if rate == RATE else f"_{rate // 1000}k"
    base = name.replace(":", "_")
    plain = os.path.join(cache, f"{base}_{i}{wide}.wav")
    if not os.path.exists(plain):
        sox(src, "-r", rate, "-c", 1, "-b", 16, plain)
    if effect is None:
        return plain
    out = os.path.join(cache, f"{base}_{i}_{'_'.join(effect)}{wide}.wav")
    if not os.path.exists(out):
        sox(plain, out, *effect, "rate", rate)
    return out


def track(cache, name, utterances, effect=None, from_s=None, rate=RATE):
    """Joins the utterances (mono at `rate`, 8 kHz unless told, pauses
    between); from the first utterance starting at or after `from_s`, each
    gets sox `effect`. Returns (path, start of the effect in seconds or None)."""
    wide = "" if rate == RATE else f"_{rate // 1000}k"
    tag = ("calm" if effect is None else "_".join(effect)) + wide
    out = os.path.join(cache, f"{name.replace(':', '_')}_{tag}.wav")
    pause = os.path.join(cache, f"pause{wide}.wav")
    if not os.path.exists(pause):
        sox("-n", "-r", rate, "-c", 1, "-b", 16, pause, "trim", 0, PAUSE_S)
    parts, t, start = [], 0.0, None
    for i, u in enumerate(utterances):
        drifted = effect is not None and t >= from_s
        if drifted and start is None:
            start = t
        part = utterance(cache, name, i, u, effect if drifted else None, rate)
        parts += [part, pause]
        t += duration(part) + PAUSE_S
    if not os.path.exists(out):
        sox(*parts, out)
    return out, start


def run(binary, args, config):
    """`tonewatch replay ARGS`: every record, and what it said on stderr."""
    cmd = [binary, "replay", *args] + (["--config", config] if config else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return [json.loads(l) for l in r.stdout.splitlines()], r.stderr


def raised(lines):
    return [l for l in lines if l["type"] == "alert" and l["state"] == "raised"]


def replay(binary, args, config):
    """`tonewatch replay ARGS`: the raised alerts and the summary line."""
    lines, _ = run(binary, args, config)
    return raised(lines), lines[-1]


def alerts(binary, args, config):
    return replay(binary, args, config)[0]


def arguments(doc):
    """The options every real-speech evaluation takes."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--split", default="report", choices=["tune", "report", "all"])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../target/release/tonewatch"))
    ap.add_argument("--config")
    ap.add_argument("--cache", help="keep rendered tracks here (default: a temporary folder)")
    return ap


def cache_dir(a, prefix):
    cache = a.cache or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(cache, exist_ok=True)
    return cache


def reading_profile(profile, args):
    """`args` with a copy of `profile` to read and write (a replay writes
    its profile back: the saved one stays as it was)."""
    used = profile + ".used.toml"
    with open(profile) as f, open(used, "w") as g:
        g.write(f.read())
    return args + ["--profile", used]


def on_line(cond):
    """The function `(cache, path)` that brings a made track through line
    condition `cond` (the track itself without one); exits on an unknown
    condition."""
    if cond is None:
        return lambda cache, path: path
    import line_conditions  # it imports this module: imported on use

    if cond not in line_conditions.RENDERED:
        sys.exit(f"unknown line condition {cond}; line_conditions.py has {', '.join(line_conditions.RENDERED)}")
    return lambda cache, path: line_conditions.render(cache, path, cond)


def main():
    ap = arguments(__doc__)
    ap.add_argument("--repeat", type=int, default=2,
                    help="read each speaker's utterances this many times over (a longer call)")
    ap.add_argument("--drift-from", type=float, default=60.0,
                    help="drifts start at the first utterance after this many seconds (and past 40 %% of the track)")
    ap.add_argument("--early-from", type=float, default=20.0,
                    help="early drifts start at the first utterance after this many seconds")
    ap.add_argument("--line", help="a line_conditions.py condition every made track goes through (e.g. ulaw)")
    a = ap.parse_args()
    through = on_line(a.line)  # before a cache is made: an unknown condition stops here
    cache = cache_dir(a, "tonewatch-drift-")

    def line(path):
        return through(cache, path)

    spk = speakers(a.data, a.split)
    hours, hours_wide = 0.0, 0.0
    false, false_wide = collections.Counter(), collections.Counter()
    false_at = []
    drift = {("pitch", "200"): [], ("pitch", "300"): [], ("tempo", "1.15"): [], ("tempo", "1.25"): []}
    for name, utts in spk.items():
        utts = utts * a.repeat
        name = f"{name}x{a.repeat}"
        calm, _ = track(cache, name, utts)
        d = duration(calm)
        hours += 2 * d / 3600
        # The same speech as a wide-band line brings it (16 kHz, as a
        # softphone or a recording would): a second rendering of the same
        # calm speech, whose alerts fall near the same thresholds.
        renderings = [(line(calm), false, name)]
        if a.line is None:
            wide, _ = track(cache, name, utts, rate=WIDE_RATE)
            hours_wide += 2 * duration(wide) / 3600
            renderings.append((wide, false_wide, f"{name} at 16 kHz"))
        for path, counts, label in renderings:
            for side in ("agent", "customer"):
                for al in alerts(a.bin, [path, "--speaker", side], a.config):
                    if al["kind"] in AGENT_KINDS + ("customer_agitation",):
                        counts[al["kind"]] += 1
                        false_at.append((label, side, al["kind"], al["t"]))
        from_s = max(a.drift_from, 0.4 * d)
        for (effect, amount), got in drift.items():
            path, start = track(cache, name, utts, (effect, amount), from_s)
            want = "agent_pitch" if effect == "pitch" else "agent_pace"
            raised = [al for al in alerts(a.bin, [line(path), "--speaker", "agent"], a.config)]
            hit = [al["t"] - start for al in raised if al["kind"] == want and al["t"] >= start]
            before = [al for al in raised if al["t"] < start]
            got.append((name, hit[0] if hit else None, len(before)))

    # Early drifts, without and with a profile made from the calm track.
    early = {(e, amt, prof): [] for e, amt in (("pitch", "300"), ("tempo", "1.25")) for prof in (False, True)}
    profiled, profiled_at = collections.Counter(), []
    for name, utts in spk.items():
        utts = utts * a.repeat
        name = f"{name}x{a.repeat}"
        calm, _ = track(cache, name, utts)
        profile = os.path.join(cache, f"{name.replace(':', '_')}_profile.toml")
        if os.path.exists(profile):
            os.remove(profile)
        replay(a.bin, [line(calm), "--speaker", "agent", "--profile", profile], a.config)
        for al in alerts(a.bin, reading_profile(profile, [line(calm), "--speaker", "agent"]), a.config):
            if al["kind"] in AGENT_KINDS:
                profiled[al["kind"]] += 1
                profiled_at.append((name, al["kind"], al["t"]))
        for (effect, amount, with_profile), got in early.items():
            path, start = track(cache, f"{name}_early", utts, (effect, amount), a.early_from)
            args = [line(path), "--speaker", "agent"]
            if with_profile:
                args = reading_profile(profile, args)
            want = "agent_pitch" if effect == "pitch" else "agent_pace"
            raised = alerts(a.bin, args, a.config)
            hit = [al["t"] - start for al in raised if al["kind"] == want and al["t"] >= start]
            before = [al for al in raised if al["t"] < start]
            got.append((name, start, hit[0] if hit else None, len(before)))

    side_h = hours / 2
    print(f"split {a.split}: {len(spk)} speakers, {side_h * 60:.1f} min of calm speech, replayed as the agent and as the customer"
          + (f", every made track through `{a.line}`" if a.line else ""))
    rows = [("calm speech", false, side_h)]
    if a.line is None:
        rows.append(("calm speech at 16 kHz", false_wide, hours_wide / 2))
    for label, counts, h in rows:
        agent = sum(counts[k] for k in AGENT_KINDS)
        print(f"{label}, false alerts per hour of a party's speech: agent {agent / h:.1f} ("
              + ", ".join(f"{k} {counts[k] / h:.1f}" for k in AGENT_KINDS)
              + f"), customer_agitation {counts['customer_agitation'] / h:.1f}")
    for name, side, kind, t in false_at:
        print(f"  false: {name} as {side}: {kind} at {t:.1f} s")
    agent = sum(profiled[k] for k in AGENT_KINDS)
    print(f"calm speech with the speaker's profile, false alerts per hour of the agent's speech: {agent / side_h:.1f} ("
          + ", ".join(f"{k} {profiled[k] / side_h:.1f}" for k in AGENT_KINDS) + ")")
    for name, kind, t in profiled_at:
        print(f"  false: {name} with a profile: {kind} at {t:.1f} s")
    for (effect, amount), got in drift.items():
        lat = [h for _, h, _ in got if h is not None]
        rec = len(lat) / len(got)
        med = statistics.median(lat) if lat else float("nan")
        mx = max(lat) if lat else float("nan")
        print(f"drift {effect} {amount}: recall {rec:.2f} ({len(lat)}/{len(got)}), latency median {med:.1f} s, max {mx:.1f} s")
        for name, h, _ in got:
            if h is None:
                print(f"  missed: {name}")

    for (effect, amount, with_profile), got in early.items():
        lat = [h for _, _, h, _ in got if h is not None]
        rec = len(lat) / len(got)
        med = statistics.median(lat) if lat else float("nan")
        mx = max(lat) if lat else float("nan")
        starts = [st for _, st, _, _ in got]
        print(f"early drift {effect} {amount} {'with' if with_profile else 'without'} a profile "
              f"(from {min(starts):.0f}-{max(starts):.0f} s): recall {rec:.2f} ({len(lat)}/{len(got)}), "
              f"latency median {med:.1f} s, max {mx:.1f} s; alerts before the drift: {sum(b for *_, b in got)}")
    print("real calls (unsplit):")
    call = os.path.join(a.data, "calls/auto_repairs_40")
    if os.path.isdir(call):
        r = alerts(a.bin, ["--agent", f"{call}/agent.wav", "--customer", f"{call}/customer.wav"], a.config)
        d = duration(f"{call}/agent.wav")
        print(f"  auto_repairs_40 ({d / 60:.1f} min): {len(r)} alerts: "
              + ", ".join(f"{x['kind']} {x['t']:.1f}" for x in r))
        r = alerts(a.bin, ["--agent", f"{call}/customer.wav", "--customer", f"{call}/agent.wav"], a.config)
        print(f"  auto_repairs_40, roles swapped ({d / 60:.1f} min): {len(r)} alerts: "
              + ", ".join(f"{x['kind']} {x['t']:.1f}" for x in r))
    mono = os.path.join(a.data, "calls/agent_monologues")
    if os.path.isdir(mono):
        for f in sorted(os.listdir(mono)):
            p = os.path.join(mono, f)
            for side in ("agent", "customer"):
                r = alerts(a.bin, [p, "--speaker", side], a.config)
                print(f"  {f} ({duration(p) / 60:.1f} min, as {side}): {len(r)} alerts: "
                      + ", ".join(f"{x['kind']} {x['t']:.1f}" for x in r))


if __name__ == "__main__":
    main()
