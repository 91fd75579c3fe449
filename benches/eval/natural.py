#!/usr/bin/env python3
"""Alerts on natural (unacted) speech: Urdu TV talk-show clips, neutral and
angry, from `emotion/urdu_natural`.

    benches/eval/natural.py DATA [--split tune|report|all] [--bin PATH]
                            [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. The other real-speech evaluations read or act; these
people talk. Each speaker's clips (2-3 s, 0.6 s apart, 8 kHz) are joined
into one track, read over until it lasts at least `--min-s` (90 s: a
baseline needs 20 s of voiced speech). `--split` keeps the speakers of
that half of the index's `split` column. Many neutral clips are clipped
at full scale in the source (the index says which); they are used as
they are, as a line would bring them.

- Neutral speakers, replayed as the agent and as the customer: every pace,
  pitch, volume or agitation alert is a false alert (per hour of a party's
  speech), and so is the warning that one channel holds two voices (each
  track is one speaker by the index).
- Angry speakers, as the customer: angry from their first word to the
  last, so a rule that compares a customer with their own start cannot see
  it (see `real_agitation.py`, angry-opening). Listed: whether
  customer_agitation was raised, and when.

The index's classes do not share speakers but for one (SM3: eight neutral
clips, two angry), so no neutral-then-angry track is made: a change of
speaker is not a change of mood.

Needs sox and a release build (cargo build --release).
"""

import collections
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_drift import AGENT_KINDS, PAUSE_S, RATE, arguments, cache_dir, duration, raised, run, sox  # noqa: E402

TWO_VOICES = "seems to hold two voices"


def speakers(data, split):
    """{(speaker, emotion): [clip path, ...]} in index order."""
    folder = os.path.join(data, "emotion", "urdu_natural")
    out = collections.OrderedDict()
    with open(os.path.join(folder, "index.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if split == "all" or r["split"] == split:
                out.setdefault((r["speaker"], r["emotion"]), []).append(os.path.join(folder, r["file"]))
    return out


def track(cache, name, clips, min_s):
    """The clips joined (8 kHz mono, pauses between), read over until the
    track lasts `min_s`. Returns (path, duration, times read)."""
    pause = os.path.join(cache, "pause.wav")
    if not os.path.exists(pause):
        sox("-n", "-r", RATE, "-c", 1, "-b", 16, pause, "trim", 0, PAUSE_S)
    parts, once = [], 0.0
    for i, clip in enumerate(clips):
        part = os.path.join(cache, f"{name}_{i}.wav")
        if not os.path.exists(part):
            # -V1: the clipped sources would warn on every conversion.
            sox("-V1", clip, "-r", RATE, "-c", 1, "-b", 16, part)
        parts += [part, pause]
        once += duration(part) + PAUSE_S
    times = max(1, -int(-min_s // once))
    out = os.path.join(cache, f"{name}x{times}.wav")
    if not os.path.exists(out):
        sox(*(parts * times), out)
    return out, once * times, times


def replay(binary, args, config):
    """(raised alerts, whether the two-voices warning was given)."""
    lines, stderr = run(binary, args, config)
    return raised(lines), TWO_VOICES in stderr


def main():
    ap = arguments(__doc__)
    ap.add_argument("--min-s", type=float, default=90.0,
                    help="read a speaker's clips over until the track lasts this long")
    a = ap.parse_args()
    cache = cache_dir(a, "tonewatch-natural-")
    kinds = AGENT_KINDS + ("customer_agitation",)

    false, warned, hours, angry = collections.Counter(), [], 0.0, []
    listed = []
    for (spk, emotion), clips in speakers(a.data, a.split).items():
        path, d, times = track(cache, f"urdu_{spk}_{emotion}", clips, a.min_s)
        if emotion == "neutral":
            hours += d / 3600
            got = []
            for side in ("agent", "customer"):
                got_alerts, two = replay(a.bin, [path, "--speaker", side], a.config)
                for al in got_alerts:
                    if al["kind"] in kinds:
                        false[al["kind"]] += 1
                        got.append(f"{al['kind']} at {al['t']:.1f} s as {side}")
                if two:
                    warned.append(f"{spk} as {side}")
            listed.append(f"  {spk} neutral ({len(clips)} clips x{times}, {d / 60:.1f} min): "
                          + ("; ".join(got) if got else "no alert"))
        else:
            got_alerts, _ = replay(a.bin, [path, "--speaker", "customer"], a.config)
            at = [al["t"] for al in got_alerts if al["kind"] == "customer_agitation"]
            angry.append((spk, len(clips), times, d, at))

    print(f"split {a.split}: natural Urdu speech (TV talk shows), {hours * 60:.1f} min of neutral "
          "speech replayed as the agent and as the customer")
    print("neutral speech, false alerts per hour of a party's speech: "
          + ", ".join(f"{k} {false[k] / hours:.1f}" for k in kinds)
          + f"; two-voices warnings on one-speaker tracks: {len(warned)}"
          + (f" ({', '.join(warned)})" if warned else ""))
    for line in listed:
        print(line)
    hit = sum(1 for *_, at in angry if at)
    print(f"angry from the first word, as the customer: customer_agitation raised on {hit} of {len(angry)} speakers")
    for spk, n, times, d, at in angry:
        when = ", ".join(f"{t:.1f} s" for t in at) if at else "not raised"
        print(f"  {spk} angry ({n} clips x{times}, {d / 60:.1f} min): {when}")


if __name__ == "__main__":
    main()
