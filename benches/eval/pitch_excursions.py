#!/usr/bin/env python3
"""How far a real speaker's calm pitch wanders, against how far a +2 st
drift moves it: the bound on what any pitch rule can tell apart.

    benches/eval/pitch_excursions.py DATA [--split tune|report|all] [--bin PATH]
                                     [--cache DIR] [--window S] [--hold S]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Needs numpy, sox and a release build.

For each calm speaker of real_drift.py (the same tracks, the same split),
the voiced frames' pitch from `replay --frames` (semitones). At every
0.1 s, the median pitch over the last `--window` seconds (10: the agent's
window) against the median of all voiced speech before that window (on
the drift track, before the drift: the baseline a rule would hold). The
figure is the largest excursion held for `--hold` seconds (5: the rule's
hold): on the calm track anywhere after the first 8 s of voiced speech, on
the +2 st track (sox `pitch` +200 cents from about 40 % of the way in)
within 60 s of the drift's start. Where a calm excursion reaches the
drifted one, no rule on pitch alone catches the drift without an alert on
that calm speech.
"""

import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import real_drift  # noqa: E402

WARM_FRAMES = 800  # 8 s of voiced speech before anything is judged
MIN_FRAMES = 150  # the window needs 1.5 s of voiced speech
TICK_S = 0.1


def voiced(binary, path):
    """(times, semitones re 100 Hz) of the voiced speech frames."""
    r = subprocess.run([binary, "replay", path, "--speaker", "agent", "--frames"],
                       capture_output=True, text=True, check=True)
    t, st = [], []
    for line in r.stdout.splitlines():
        if line.startswith('{"type":"frame"'):
            f = json.loads(line)
            if f["speech"] and f["f0_hz"]:
                t.append(f["t"])
                st.append(12 * math.log2(f["f0_hz"] / 100))
    return np.array(t), np.array(st)


def held_excursion(t, st, window, hold, since, until, frozen_at=None):
    """Largest excursion (st) of the window median over the baseline held
    for `hold` s, for windows ending in [since, until)."""
    xs, ups = [], []
    stop = None if frozen_at is None else np.searchsorted(t, frozen_at)
    for x in np.arange(since, min(until, t[-1]) + TICK_S, TICK_S):
        hi = np.searchsorted(t, x, side="right")
        lo = np.searchsorted(t, x - window, side="right")
        base = lo if stop is None else min(lo, stop)
        if base < WARM_FRAMES or hi - lo < MIN_FRAMES:
            continue
        xs.append(x)
        ups.append(np.median(st[lo:hi]) - np.median(st[:base]))
    best = float("-inf")
    for i in range(len(xs)):
        j = np.searchsorted(xs, xs[i] - hold)
        if xs[i] - xs[j] >= hold - TICK_S:
            best = max(best, min(ups[j:i + 1]))
    return best


def main():
    ap = real_drift.arguments(__doc__)
    ap.add_argument("--window", type=float, default=10.0, help="median window (s)")
    ap.add_argument("--hold", type=float, default=5.0, help="how long an excursion must hold (s)")
    a = ap.parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-drift-")
    print(f"split {a.split}: largest excursion held {a.hold:.0f} s of the {a.window:.0f}-s median pitch "
          "over the speaker's own median (st)")
    print(f"{'speaker':34s} {'calm':>6s} {'+2 st drift':>12s}")
    caught_calm = []
    for name, utts in real_drift.speakers(a.data, a.split).items():
        utts = utts * 2
        tag = f"{name}x2"
        calm, _ = real_drift.track(cache, tag, utts)
        d = real_drift.duration(calm)
        shifted, start = real_drift.track(cache, tag, utts, ("pitch", "200"), max(60.0, 0.4 * d))
        t, st = voiced(a.bin, calm)
        c = held_excursion(t, st, a.window, a.hold, 0.0, float("inf"))
        t, st = voiced(a.bin, shifted)
        s = held_excursion(t, st, a.window, a.hold, start, start + 60.0, frozen_at=start)
        print(f"{name:34s} {c:6.2f} {s:12.2f}" + ("  calm reaches the drift" if c >= s else ""))
        caught_calm.append((c, s))
    calm_max = max(c for c, _ in caught_calm)
    drift_min = min(s for _, s in caught_calm)
    print(f"calm up to {calm_max:.2f} st, drifts from {drift_min:.2f} st: "
          + ("separable" if drift_min > calm_max else "overlapping"))


if __name__ == "__main__":
    main()
