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
faster), the band flux (computed here, not in tonewatch: the mean size of
the change of eight band levels, 250-3500 Hz, over 20 ms, on speech frames;
a candidate for `agent_pace`), and the best weighted mix of modulation and
syllable rate (weights from this split's own calm covariance: an upper
bound, not a held-out figure).

A cue for a live line must also hold still when the line changes under the
same voice. The second table: how far each cue's whole-track value moves
when hiss or hum of line_conditions.py lies under the calm track, in units
of the cue's own calm spread (median over speakers). A noise bed that comes
or goes in a call moves a cue by this much with no change of tempo.

Needs sox, numpy and a release build.
"""

import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import line_conditions  # noqa: E402
import real_drift  # noqa: E402

FACTORS = ("1.15", "1.25")
NOISE = ("hiss-55", "hiss-45", "hum-45")
NAMES = ("modulation", "syllable rate", "voiced runs", "band flux")
FLUX_BANDS = np.geomspace(250.0, 3500.0, 9)  # eight bands' edges, Hz
FLUX_LAG = 2  # frames: 20 ms
WINDOW_FRAMES = 1000  # 10 s
MIN_SPEECH_FRAMES = 300


def band_flux(path, speech):
    """Per frame: the mean absolute change (dB) of eight band levels since
    FLUX_LAG frames before, where both frames are speech (else NaN); 30-ms
    Hann frames centred every 10 ms, as tonewatch's."""
    hop, win = 80, 240
    x = np.concatenate([np.zeros(win // 2), line_conditions.read(path)])
    n = min(len(speech), max(0, (len(x) - win) // hop + 1))
    spec = np.abs(np.fft.rfft(x[np.arange(win)[None, :] + hop * np.arange(n)[:, None]] * np.hanning(win),
                              256, axis=1)) ** 2
    freq = np.fft.rfftfreq(256, 1.0 / line_conditions.RATE)
    levels = 10 * np.log10(np.stack([spec[:, (freq >= a) & (freq < b)].sum(axis=1)
                                     for a, b in zip(FLUX_BANDS[:-1], FLUX_BANDS[1:])], axis=1) + 1e-10)
    out = np.full(len(speech), np.nan)
    both = speech[FLUX_LAG:n] & speech[:n - FLUX_LAG]
    step = np.mean(np.abs(levels[FLUX_LAG:] - levels[:-FLUX_LAG]), axis=1)
    out[FLUX_LAG:n][both] = step[both]
    return out


def running_mean(v, frames):
    """Mean of the non-NaN values over the last `frames` frames (NaN before)."""
    ok = ~np.isnan(v)
    s = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    c = np.concatenate([[0], np.cumsum(ok)])
    out = np.full(len(v), np.nan)
    n = np.maximum(c[frames:] - c[:-frames], 1)
    out[frames - 1:] = (s[frames:] - s[:-frames]) / n
    return out


def frames(binary, path):
    """Per frame: speech, voiced, modulation, rate, and the band flux's mean
    over the last 2 s of frames (the modulation's window is 2 s of talking);
    NaN when absent."""
    out = subprocess.run([binary, "replay", "--speaker", "agent", "--frames", path],
                         check=True, capture_output=True, text=True).stdout
    rows = []
    for f in map(json.loads, out.splitlines()):
        if f["type"] == "frame":
            rows.append((float(bool(f.get("speech"))), float(f.get("f0_hz") is not None),
                         f.get("modulation_db_s") or np.nan, f.get("rate_sps") or np.nan))
    a = np.array(rows)
    speech = a[:, 0] > 0
    flux = running_mean(band_flux(path, speech), 200)
    flux[~speech] = np.nan
    return np.column_stack([a, flux])


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
    s, v, mod, rate, flux = a.T
    ok = (s > 0) & ~np.isnan(mod)
    runs = [n for _, n in voiced_runs(s, v)]
    return np.log([np.mean(mod[ok]), np.mean(rate[ok]), 1.0 / np.mean(runs), np.nanmean(flux)])


def windows(a):
    """Each cue's median over 10-s windows, every 0.5 s (log)."""
    s, v, mod, rate, flux = a.T
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
        out.append((np.median(mod[w][ok[w]]), np.median(rate[w][ok[w]]), 1.0 / np.median(lens[sel]),
                    np.nanmedian(flux[w])))
    return np.log(np.array(out))


def robust_sd(x):
    return (np.percentile(x, 84) - np.percentile(x, 16)) / 2


def main():
    ap = real_drift.arguments(__doc__)
    a = ap.parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-tempo-")
    response = {f: [] for f in FACTORS}
    spreads, centred, moved = [], [], []
    for name, utts in real_drift.speakers(a.data, a.split).items():
        calm, _ = real_drift.track(cache, f"{name}x1", utts)
        c = frames(a.bin, calm)
        for f in FACTORS:
            path, _ = real_drift.track(cache, f"{name}x1", utts, ("tempo", f), 0.0)
            response[f].append((whole(frames(a.bin, path)) - whole(c)) / np.log(float(f)))
        w = windows(c)
        if len(w) >= 10:
            own = np.array([robust_sd(w[:, k]) for k in range(len(NAMES))])
            spreads.append(own)
            centred.append(w - np.median(w, axis=0))
            moved.append([(whole(frames(a.bin, line_conditions.render(cache, calm, n))) - whole(c)) / own
                          for n in NOISE])
    spreads = np.median(np.array(spreads), axis=0)
    print(f"split {a.split}: {len(centred)} speakers")
    print(f"{'cue':16s} {'response x1.15':>14s} {'x1.25':>6s} {'calm 10-s spread':>17s} {'d prime x1.15':>14s}")
    resp = {f: np.median(np.array(r), axis=0) for f, r in response.items()}
    for k, n in enumerate(NAMES):
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
    print()
    print("noise under the same calm track: the cue's move in its own calm spreads (median over speakers)")
    print(f"{'cue':16s} " + " ".join(f"{n:>8s}" for n in NOISE))
    moved = np.median(np.array(moved), axis=0)  # noise x cue
    for k, n in enumerate(NAMES):
        print(f"{n:16s} " + " ".join(f"{moved[j][k]:8.1f}" for j in range(len(NOISE))))


if __name__ == "__main__":
    main()
