#!/usr/bin/env python3
"""Clip by clip: does the agitation score tell an angry utterance from a
neutral one better than a loudness + pitch z-score rule on the same clips?

    benches/eval/agitation_auc.py DATA [--split tune|report|all] [--bin PATH]
                                  [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Speakers of nEMO (Polish) and TESS (English) read the
same sentences neutral and angry (`--split` keeps one half of each set's
`split` column). Each speaker's neutral readings are dealt into two folds;
a clip is scored against the other fold: one customer track at 8 kHz of
that fold's readings (read twice, so the baseline has warmed up), then the
clip read three times (about the customer's 5-s window), 0.6 s apart.

- tonewatch: the highest agitation reading once the clip has started (the
  10-s mean of the cues, as the alert sees it).
- z rule: (loudness - mean) / sd + (pitch - mean) / sd, where loudness is
  the clip's median speech-frame level and pitch its median voiced pitch in
  semitones (tonewatch's own frames, so both read the same front end), and
  mean / sd are over the baseline fold's clips.
- loudness z alone, for reference.

AUC: the chance that a random angry clip scores above a random neutral one
(ties half), pooled over every speaker's clips; at the levels recorded, and
with every clip brought to -26 dBFS RMS first (what a line's AGC does), where
loudness carries nothing. The issue's target: tonewatch's AUC above the z rule's.

Needs sox and a release build (cargo build --release).
"""

import hashlib
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_agitation import LEVEL_DBFS, speakers  # noqa: E402
from real_drift import PAUSE_S, RATE, arguments, cache_dir, duration, run, sox  # noqa: E402

TEST_REPEAT = 3


def clip(cache, name, path, rms, levelled):
    """The utterance at 8 kHz mono (at -26 dBFS RMS when `levelled`)."""
    tag = "lev" if levelled else "orig"
    base = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(cache, f"{name}_{base}_{tag}.wav")
    if not os.path.exists(out):
        gain = LEVEL_DBFS - rms if levelled else 0.0
        sox(path, "-r", RATE, "-c", 1, "-b", 16, out, "gain", f"{gain:.2f}")
    return out


def join(cache, parts):
    """The parts with pauses between; returns the path and each part's start."""
    pause = os.path.join(cache, "pause.wav")
    if not os.path.exists(pause):
        sox("-n", "-r", RATE, "-c", 1, "-b", 16, pause, "trim", 0, PAUSE_S)
    seq, starts, t = [], [], 0.0
    for p in parts:
        seq += [p, pause]
        starts.append(t)
        t += duration(p) + PAUSE_S
    out = os.path.join(cache, "auc_" + hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16] + ".wav")
    if not os.path.exists(out):
        sox(*seq, out)
    return out, starts


def clip_features(frames, start, end):
    """Median speech loudness (dB) and median voiced pitch (st) in [start, end)."""
    loud = [f["loudness_db"] for f in frames if start <= f["t"] < end and f["speech"]]
    st = [12 * np.log2(f["f0_hz"] / 100) for f in frames if start <= f["t"] < end and f["f0_hz"]]
    if not loud or not st:
        return None
    return statistics.median(loud), statistics.median(st)


def score_clip(a, cache, base_clips, test):
    """(tonewatch score, (loudness, pitch) of the test clip, [(loudness, pitch)]
    of the baseline clips), or None when nothing was measured."""
    parts = base_clips * 2 + [test] * TEST_REPEAT
    path, starts = join(cache, parts)
    lines, _ = run(a.bin, [path, "--speaker", "customer", "--frames"], a.config)
    frames = [l for l in lines if l["type"] == "frame"]
    t0 = starts[2 * len(base_clips)]
    readings = [l["score"] for l in lines if l["type"] == "agitation" and l["t"] >= t0]
    if not readings:
        return None
    ends = starts[1:] + [duration(path)]
    base = [clip_features(frames, s, e - PAUSE_S / 2) for s, e in zip(starts[: len(base_clips)], ends)]
    test_f = clip_features(frames, t0, ends[2 * len(base_clips)] - PAUSE_S / 2)
    base = [b for b in base if b]
    if test_f is None or len(base) < 3:
        return None
    return max(readings), test_f, base


def auc(pos, neg):
    """P(a positive scores above a negative), ties counted half."""
    pos, neg = np.asarray(pos), np.asarray(neg)
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return (gt + 0.5 * eq) / (len(pos) * len(neg))


def main():
    a = arguments(__doc__).parse_args()
    cache = cache_dir(a, "tonewatch-auc-")
    spk = speakers(a.data, a.split)
    print(f"split {a.split}: {len(spk)} speakers (nEMO, TESS); every clip scored against the other fold of the speaker's neutral readings")
    for levelled in (False, True):
        scores = {"tonewatch": ([], []), "z rule": ([], []), "loudness z": ([], [])}
        per_speaker = []
        skipped = 0
        for name, parts in spk.items():
            neutral = [clip(cache, name, p, r, levelled) for p, r in parts["neutral"]]
            angry = [clip(cache, name, p, r, levelled) for p, r in parts["anger"]]
            folds = [neutral[0::2], neutral[1::2]]
            tests = [(c, 0, i % 2) for i, c in enumerate(neutral)] + [(c, 1, i % 2) for i, c in enumerate(angry)]
            mine = ([], [])
            for test, is_angry, fold in tests:
                # A neutral clip is scored against the fold it is not in.
                base = folds[1 - fold]
                got = score_clip(a, cache, base, test)
                if got is None:
                    skipped += 1
                    continue
                tw, (loud, st), bf = got
                bl = [b[0] for b in bf]
                bp = [b[1] for b in bf]
                zl = (loud - statistics.mean(bl)) / max(statistics.stdev(bl), 0.5)
                zp = (st - statistics.mean(bp)) / max(statistics.stdev(bp), 0.25)
                for key, v in (("tonewatch", tw), ("z rule", zl + zp), ("loudness z", zl)):
                    scores[key][is_angry].append(v)
                mine[is_angry].append(tw)
            if mine[0] and mine[1]:
                per_speaker.append((name, auc(mine[1], mine[0])))
        tag = "levelled to -26 dBFS" if levelled else "levels as recorded"
        n_neg, n_pos = len(scores["tonewatch"][0]), len(scores["tonewatch"][1])
        line = ", ".join(f"{k} {auc(pos, neg):.3f}" for k, (neg, pos) in scores.items())
        print(f"{tag}: {n_pos} angry / {n_neg} neutral clips ({skipped} unmeasured): AUC {line}")
        worst = sorted(per_speaker, key=lambda x: x[1])[:3]
        print("  tonewatch per speaker, lowest: " + ", ".join(f"{n} {v:.2f}" for n, v in worst))


if __name__ == "__main__":
    main()
