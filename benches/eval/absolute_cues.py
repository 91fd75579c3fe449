#!/usr/bin/env python3
"""Can a customer who is angry from their first word be told apart from a
calm one without their own calm speech to compare with? Per speaker, the
cues the agitation score reads, as absolute values.

    benches/eval/absolute_cues.py DATA [--split tune|report|all] [--bin PATH]
                                  [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. For every speaker and class (angry readings of nEMO, TESS,
EmoDB and the natural Urdu anger; calm: their neutral readings, the
LibriSpeech readers, the 100 voices of `librispeech_one_each` (one
utterance each, 2-17 s: a voice with under a second of pitch is left
out), the real calls and agent monologues), one track of
their clips at 8 kHz (0.6 s apart) is replayed with `--frames`, and read:
median voiced pitch (semitones re 100 Hz), vocal effort (median, dB:
level above 1 kHz against below), pitch range (10th to 90th percentile,
st).

A speaker-independent rule that raises on a higher, more effortful or wider
voice must raise on every calm speaker who is at least as high on every cue
as an angry one. So for each angry speaker the table says whether some calm
speaker *dominates* them (at or above them on all three cues), overall and
among speakers of the same sex (as if the rule knew it). A dominated angry
speaker cannot be caught this way without a false alert on that calm one.

EmoDB is peak-normalised in this copy and TESS's neutral and angry readings
are of single words: both are kept, as what they are. This measures; it
tunes nothing. Needs sox and a release build (cargo build --release).
"""

import csv
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_drift import PAUSE_S, RATE, arguments, cache_dir, run, sox  # noqa: E402

EMOTION_SETS = (
    # folder, file column, speaker column, sex column, emotion column
    ("emotion/nemo_pl", "file", "speaker", "sex", "emotion"),
    ("emotion/tess", "file", "speaker", "sex", "emotion"),
    ("emotion/emodb", "path", "speaker", "gender", "emotion"),
    ("emotion/urdu_natural", "file", "speaker", "sex", "emotion"),
)
CALLS = (
    # the real calls of calls/, one party each, and who they are (by ear of the pitch)
    ("calls/auto_repairs_40/agent.wav", "F"),
    ("calls/auto_repairs_40/customer.wav", "M"),
    ("calls/agent_monologues/agent1.wav", "M"),
    ("calls/agent_monologues/agent2.wav", "M"),
)


def sex_of(v):
    return "F" if v.strip().lower() in ("f", "female") else "M"


def groups(data, split):
    """[(set, speaker, sex, "angry"|"calm", [paths])]."""
    out = {}
    for folder, fcol, scol, sexcol, ecol in EMOTION_SETS:
        with open(os.path.join(data, folder, "index.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if split != "all" and r.get("split", split) != split:
                    continue
                cls = {"anger": "angry", "neutral": "calm"}.get(r[ecol])
                if cls is None:
                    continue
                path = r[fcol]
                if path.startswith("A_emotion/emodb/"):
                    path = path[len("A_emotion/emodb/"):]
                key = (os.path.basename(folder), r[scol], sex_of(r[sexcol]), cls)
                out.setdefault(key, []).append(os.path.join(data, folder, path))
    for folder, dataset in (("speakers/librispeech_test_other", "librispeech"),
                            ("speakers/librispeech_one_each", "libri_one")):
        with open(os.path.join(data, folder, "index.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if split == "all" or r["split"] == split:
                    key = (dataset, r["speaker"], sex_of(r["sex"]), "calm")
                    out.setdefault(key, []).append(os.path.join(data, folder, r["file"]))
    for path, sex in CALLS:
        key = ("call", os.path.splitext(path[len("calls/"):])[0], sex, "calm")
        out[key] = [os.path.join(data, path)]
    return [(*k, v) for k, v in out.items()]


def track(cache, name, paths):
    out = os.path.join(cache, f"abs_{name}.wav")
    if os.path.exists(out):
        return out
    pause = os.path.join(cache, "pause.wav")
    if not os.path.exists(pause):
        sox("-n", "-r", RATE, "-c", 1, "-b", 16, pause, "trim", 0, PAUSE_S)
    parts = []
    for i, p in enumerate(paths):
        part = os.path.join(cache, f"abs_{name}_{i}.wav")
        if not os.path.exists(part):
            sox(p, "-r", RATE, "-c", 1, "-b", 16, part)
        parts += [part, pause]
    sox(*parts, out)
    return out


def cues(a, path):
    lines, _ = run(a.bin, [path, "--speaker", "customer", "--frames"], a.config)
    st = [12 * np.log2(l["f0_hz"] / 100) for l in lines if l["type"] == "frame" and l["f0_hz"]]
    effort = [l["effort_db"] for l in lines if l["type"] == "frame" and l["effort_db"] is not None]
    if len(st) < 100 or len(effort) < 100:
        return None
    return statistics.median(st), statistics.median(effort), float(np.percentile(st, 90) - np.percentile(st, 10))


def main():
    a = arguments(__doc__).parse_args()
    cache = cache_dir(a, "tonewatch-abs-")
    rows = []
    for dataset, speaker, sex, cls, paths in groups(a.data, a.split):
        name = f"{dataset}_{speaker}_{cls}".replace("/", "_")
        c = cues(a, track(cache, name, paths))
        if c:
            rows.append((dataset, speaker, sex, cls, c))
    calm = [r for r in rows if r[3] == "calm"]
    angry = [r for r in rows if r[3] == "angry"]
    print(f"split {a.split}: {len(angry)} angry and {len(calm)} calm speaker tracks")
    print("set            speaker                    sex class  pitch st  effort dB  range st  dominated by (any sex / same sex)")

    def dominates(c, x):
        return all(cv >= xv for cv, xv in zip(c[4], x[4]))

    n_any = n_same = 0
    for r in sorted(rows, key=lambda r: (r[3], r[0], r[1])):
        p, e, g = r[4]
        note = ""
        if r[3] == "angry":
            by = [c for c in calm if dominates(c, r)]
            same = [c for c in by if c[2] == r[2]]
            n_any += bool(by)
            n_same += bool(same)
            name = lambda c: f"{c[0]}:{c[1]}"  # noqa: E731
            note = f"{name(by[0]) if by else '-'} / {name(same[0]) if same else '-'}"
        print(f"{r[0]:14s} {r[1]:26s} {r[2]:3s} {r[3]:6s} {p:8.1f} {e:10.1f} {g:9.1f}  {note}")
    print(f"angry speakers dominated by a calm one on all three cues: {n_any} of {len(angry)}; "
          f"by a calm one of the same sex: {n_same} of {len(angry)}")
    for i, cue in enumerate(("pitch", "effort", "range")):
        top = max(c[4][i] for c in calm)
        over = sum(1 for r in angry if r[4][i] > top)
        print(f"  {cue} alone above every calm speaker's: {over} of {len(angry)} angry speakers")


if __name__ == "__main__":
    main()
