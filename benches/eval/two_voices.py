#!/usr/bin/env python3
"""The warning that one channel holds two voices, on real speech: how often
it is given for one voice, and how often for two.

    benches/eval/two_voices.py DATA [--split tune|report|all] [--bin PATH]
                               [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Needs numpy, sox and a release build.

- One voice (negatives): each calm speaker of real_drift.py (LibriSpeech,
  nEMO, TESS) and each neutral natural speaker of natural.py (Urdu TV talk,
  clips read over), replayed as a mono `--speaker agent` file.
- Two voices (positives): the two-party calls of overtalk.py (clean
  condition: real turns of two different speakers, with overlaps and
  backchannels) summed to one channel; and `calls/mono_8bit` (unsplit).
  The pair's pitch gap is measured on the stereo call, from each party's
  median pitch in tonewatch's summary: a pitch-based detector can only be
  asked to find pairs whose voices sit far apart, so positives are listed
  by gap.

A warning counts when `replay` prints "seems to hold two voices" on stderr.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import natural  # noqa: E402
import numpy as np  # noqa: E402
import overtalk  # noqa: E402
import real_drift  # noqa: E402

# Gap bands (semitones between the two parties' median pitch).
BANDS = ((0.0, 4.0), (4.0, 8.0), (8.0, 99.0))


def warned(binary, path, config):
    _, stderr = real_drift.run(binary, [path, "--speaker", "agent"], config)
    return natural.TWO_VOICES in stderr


def main():
    ap = real_drift.arguments(__doc__)
    a = ap.parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-two-voices-")

    one = []
    for name, utts in real_drift.speakers(a.data, a.split).items():
        path, _ = real_drift.track(cache, f"{name}x2", utts * 2)
        one.append((name, warned(a.bin, path, a.config)))
    for (spk, emotion), clips in natural.speakers(a.data, a.split).items():
        if emotion == "neutral":
            path, _, _ = natural.track(cache, f"urdu_{spk}_{emotion}", clips, 90.0)
            one.append((f"urdu_natural:{spk}", warned(a.bin, path, a.config)))

    names = list(real_drift.speakers(a.data, a.split).items())
    two = []
    for i, (aname, autts) in enumerate(names):
        cname, cutts = names[(i + 1) % len(names)]
        rng = np.random.default_rng(i)
        call = overtalk.compose(
            overtalk.Speaker(cache, aname, autts, overtalk.AGENT_DBFS),
            overtalk.Speaker(cache, cname, cutts, overtalk.CUSTOMER_DBFS),
            rng,
        )
        stereo, _ = overtalk.write_call(cache, f"call{i:02d}", call, "clean")
        _, _, summary = overtalk.tonewatch(a.bin, stereo, a.config)
        f0 = [s["f0_median_hz"] for s in summary["speakers"]]
        gap = abs(12 * math.log2(f0[0] / f0[1])) if all(f0) else 0.0
        mono = os.path.join(cache, f"call{i:02d}__mono.wav")
        if not os.path.exists(mono):
            real_drift.sox(stereo, mono, "remix", "1,2")
        two.append((f"{aname} + {cname}", gap, warned(a.bin, mono, a.config)))

    false = [n for n, w in one if w]
    print(f"split {a.split}: one voice, {len(one)} tracks: warned on {len(false)}"
          + (f" ({', '.join(false)})" if false else ""))
    print(f"two voices, {len(two)} calls summed to mono: warned on {sum(w for *_, w in two)}")
    for lo, hi in BANDS:
        band = [(n, g, w) for n, g, w in two if lo <= g < hi]
        if band:
            print(f"  pitch gap {lo:.0f}-{hi:.0f} st: {sum(w for *_, w in band)} of {len(band)} "
                  f"(gaps {', '.join(f'{g:.1f}' for _, g, _ in sorted(band, key=lambda b: b[1]))})")
    for n, g, w in sorted(two, key=lambda t: t[1]):
        print(f"    {g:4.1f} st {'warned' if w else '-':6s} {n}")
    mixed = os.path.join(a.data, "calls/mono_8bit")
    if os.path.isdir(mixed):
        for f in sorted(os.listdir(mixed)):
            if f.endswith(".wav"):
                w = warned(a.bin, os.path.join(mixed, f), a.config)
                print(f"calls/mono_8bit/{f} (unsplit, two voices): {'warned' if w else 'not warned'}")


if __name__ == "__main__":
    main()
