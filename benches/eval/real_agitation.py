#!/usr/bin/env python3
"""Customer agitation on real angry speech: neutral then angry, the same
with every utterance brought to one level (what a line's AGC does), and
angry from the first word.

    benches/eval/real_agitation.py DATA [--split tune|report|all] [--bin PATH]
                                   [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Speakers of nEMO (Polish) and TESS (English) read the
same sentences neutral and angry, at the levels they were recorded at (in
nEMO the recording gain changed between sessions: anger is quieter than
neutral for 5 of 9 speakers). `--split` keeps the speakers of that half of
each set's `split` column: tune on one half, report the other.

For each speaker, one customer track at 8 kHz, utterances 0.6 s apart:
- calm-then-angry: every neutral reading (about a minute), then every angry
  one. A customer_agitation raise during the angry part is a hit (latency
  from its start); one during the neutral part is a false alert.
- levelled: the same with every utterance at -26 dBFS RMS, so loudness
  carries nothing.
- angry-opening: the angry readings first, then the neutral ones. A raise
  during the angry part is a hit: a customer who calls angry is told apart
  from one who is merely loud or lively.

Needs sox and a release build (cargo build --release).
"""

import collections
import csv
import hashlib
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from real_drift import PAUSE_S, RATE, arguments, cache_dir, duration, replay, sox  # noqa: E402

LEVEL_DBFS = -26.0


def speakers(data, split):
    """{speaker: {"neutral": [(path, rms_dbfs)], "anger": [...]}}."""
    out = collections.OrderedDict()
    for folder in ("emotion/nemo_pl", "emotion/tess"):
        with open(os.path.join(data, folder, "index.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if split != "all" and r["split"] != split:
                    continue
                name = f"{os.path.basename(folder)}_{r['speaker']}"
                parts = out.setdefault(name, {"neutral": [], "anger": []})
                parts[r["emotion"]].append((os.path.join(data, folder, r["file"]), float(r["rms_dbfs"])))
    return out


def track(cache, name, utterances, levelled):
    """Joins the utterances (8 kHz mono, pauses between); returns the path
    and each utterance's start time."""
    tag = "lev" if levelled else "orig"
    pause = os.path.join(cache, "pause.wav")
    if not os.path.exists(pause):
        sox("-n", "-r", RATE, "-c", 1, "-b", 16, pause, "trim", 0, PAUSE_S)
    parts, starts, t = [], [], 0.0
    for path, rms in utterances:
        base = os.path.splitext(os.path.basename(path))[0]
        part = os.path.join(cache, f"{name}_{base}_{tag}.wav")
        if not os.path.exists(part):
            gain = LEVEL_DBFS - rms if levelled else 0.0
            sox(path, "-r", RATE, "-c", 1, "-b", 16, part, "gain", f"{gain:.2f}")
        parts += [part, pause]
        starts.append(t)
        t += duration(part) + PAUSE_S
    order = hashlib.sha1("\n".join(p for p, _ in utterances).encode()).hexdigest()[:10]
    out = os.path.join(cache, f"{name}_{tag}_{len(utterances)}_{order}.wav")
    if not os.path.exists(out):
        sox(*parts, out)
    return out, starts


def raises(binary, path, config):
    """Times of the customer_agitation alerts raised on a customer track."""
    alerts, _ = replay(binary, [path, "--speaker", "customer"], config)
    return [l["t"] for l in alerts if l["kind"] == "customer_agitation"]


def main():
    a = arguments(__doc__).parse_args()
    cache = cache_dir(a, "tonewatch-agitation-")

    spk = speakers(a.data, a.split)
    conditions = {"calm-then-angry": [], "levelled": [], "angry-opening": []}
    false_n, neutral_h = collections.Counter(), collections.Counter()
    for name, parts in spk.items():
        n, an = parts["neutral"], parts["anger"]
        for cond, got in conditions.items():
            order = an + n if cond == "angry-opening" else n + an
            path, starts = track(cache, name, order, cond == "levelled")
            end = duration(path)
            if cond == "angry-opening":
                angry = (0.0, starts[len(an)])
                calm = (starts[len(an)], end)
            else:
                angry = (starts[len(n)], end)
                calm = (0.0, starts[len(n)])
            ts = raises(a.bin, path, a.config)
            hit = [t - angry[0] for t in ts if angry[0] <= t < angry[1]]
            if cond != "angry-opening":
                false_n[cond] += sum(1 for t in ts if calm[0] <= t < calm[1])
                neutral_h[cond] += (calm[1] - calm[0]) / 3600
            got.append((name, hit[0] if hit else None))

    print(f"split {a.split}: {len(spk)} speakers (nEMO, TESS), neutral and angry readings, as the customer")
    for cond, got in conditions.items():
        lat = [h for _, h in got if h is not None]
        med = statistics.median(lat) if lat else float("nan")
        mx = max(lat) if lat else float("nan")
        line = f"{cond}: recall {len(lat) / len(got):.2f} ({len(lat)}/{len(got)}), latency median {med:.1f} s, max {mx:.1f} s"
        if cond in neutral_h:
            line += f"; false alerts in the neutral part {false_n[cond]} ({false_n[cond] / neutral_h[cond]:.1f} per hour)"
        print(line)
        for name, h in got:
            if h is None:
                print(f"  missed: {name}")


if __name__ == "__main__":
    main()
