#!/usr/bin/env python3
"""Which tempo cue does what on real voices: how far each moves when a real
speaker talks faster, against how far it wanders in their calm speech.

    benches/eval/tempo_cues.py DATA [--split tune|report|all] [--bin PATH] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied into
the project. The speakers of `real_drift.py` (one half by `--split`), each
joined into one track at 8 kHz, and the same track with every utterance
time-stretched by sox `tempo` ×1.15 and ×1.25 (pitch kept): the same words,
faster. From `tonewatch replay --frames`, per cue:

- response: the cue's log ratio, stretched track over calm track (whole
  tracks, speech frames), as a share of the true log ratio (1.0: the cue
  moves as far as the tempo); median over speakers;
- calm spread: how far the cue's median over 10-s windows (what
  `agent_pace` reads) wanders on the calm track, in log units (robust
  standard deviation: half the 16th-84th percentile distance); median over
  speakers;
- d': response × ln 1.15 / calm spread, how many of their own calm
  wanderings a 15 % faster speaker moves the cue.

Cues: the level modulation (`modulation_db_s`, what `agent_pace` reads), the
syllable rate (`rate_sps`), the length of voiced runs (inverted: shorter is
faster), and the best weighted mix of modulation and syllable rate (weights
from this split's own calm covariance: an upper bound, not a held-out figure).

Needs sox, numpy and a release build.
"""

import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_drift  # noqa: E402

FACTORS = ("1.15", "1.25")
WINDOW_FRAMES = 1000  # 10 s
MIN_SPEECH_FRAMES = 300


def frames(binary, path):
    """Per frame: speech, voiced, modulation, rate (NaN when absent)."""
    out = subprocess.run([binary, "replay", "--speaker", "agent", "--frames", path],
                         check=True, capture_output=True, text=True).stdout
    rows = []
    for f in map(json.loads, out.splitlines()):
        if f["type"] == "frame":
            rows.append((float(bool(f.get("speech"))), float(f.get("f0_hz") is not None),
                         f.get("modulation_db_s") or np.nan, f.get("rate_sps") or np.nan))
    return np.array(rows)


def voiced_runs(speech, voiced):
    """(end frame, length) of each run of voiced speech frames, 3 or more long."""
    out, n = [], 0
    for i, v in enumerate((speech > 0) & (voiced > 0)):
        if v:
            n += 1
        else:
            if n >= 3:
                out.append((i, n))
            n = 0
    return out


def whole(a):
    """Each cue over the whole track (log)."""
    s, v, mod, rate = a.T
    ok = (s > 0) & ~np.isnan(mod)
    runs = [n for _, n in voiced_runs(s, v)]
    return np.log([np.mean(mod[ok]), np.mean(rate[ok]), 1.0 / np.mean(runs)])


def windows(a):
    """Each cue's median over 10-s windows, every 0.5 s (log)."""
    s, v, mod, rate = a.T
    ok = (s > 0) & ~np.isnan(mod)
    runs = voiced_runs(s, v)
    ends = np.array([e for e, _ in runs])
    lens = np.array([n for _, n in runs])
    out = []
    for i in range(WINDOW_FRAMES, len(s), 50):
        w = slice(i - WINDOW_FRAMES, i)
        sel = (ends > i - WINDOW_FRAMES) & (ends <= i)
        if ok[w].sum() < MIN_SPEECH_FRAMES or sel.sum() < 5:
            continue
        out.append((np.median(mod[w][ok[w]]), np.median(rate[w][ok[w]]), 1.0 / np.median(lens[sel])))
    return np.log(np.array(out))


def robust_sd(x):
    return (np.percentile(x, 84) - np.percentile(x, 16)) / 2


def main():
    ap = real_drift.arguments(__doc__)
    a = ap.parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-tempo-")
    names = ("modulation", "syllable rate", "voiced runs")
    response = {f: [] for f in FACTORS}
    spreads, centred = [], []
    for name, utts in real_drift.speakers(a.data, a.split).items():
        calm, _ = real_drift.track(cache, f"{name}x1", utts)
        c = frames(a.bin, calm)
        for f in FACTORS:
            path, _ = real_drift.track(cache, f"{name}x1", utts, ("tempo", f), 0.0)
            response[f].append((whole(frames(a.bin, path)) - whole(c)) / np.log(float(f)))
        w = windows(c)
        if len(w) >= 10:
            spreads.append([robust_sd(w[:, k]) for k in range(3)])
            centred.append(w - np.median(w, axis=0))
    spreads = np.median(np.array(spreads), axis=0)
    print(f"split {a.split}: {len(centred)} speakers")
    print(f"{'cue':16s} {'response x1.15':>14s} {'x1.25':>6s} {'calm 10-s spread':>17s} {'d prime x1.15':>14s}")
    resp = {f: np.median(np.array(r), axis=0) for f, r in response.items()}
    for k, n in enumerate(names):
        d = resp["1.15"][k] * np.log(1.15) / spreads[k]
        print(f"{n:16s} {resp['1.15'][k]:14.2f} {resp['1.25'][k]:6.2f} {spreads[k]:17.3f} {d:14.2f}")
    # The best mix of modulation and syllable rate, by the calm covariance.
    c = np.cov(np.concatenate(centred)[:, :2].T)
    r = resp["1.15"][:2]
    w = np.linalg.solve(c, r)
    w /= w.sum()
    d = (w @ r) * np.log(1.15) / np.sqrt(w @ c @ w)
    print(f"{'best mix':16s} weights modulation {w[0]:.2f}, syllable rate {w[1]:.2f}: d prime x1.15 {d:.2f}"
          " (standard deviations, not robust)")


if __name__ == "__main__":
    main()
