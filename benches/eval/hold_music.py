#!/usr/bin/env python3
"""Music on hold: does a minute of it raise alerts or count as talk?

    benches/eval/hold_music.py DATA [--split tune|report|all] [--bin PATH]
                               [--config TOML] [--cache DIR] [--line COND]

A caller put on hold hears music, and a recording of the line often
carries it: on the customer's channel, or on the agent's when the phone
system plays it into the agent's leg. Music holds pitches a voice's
pitch tracker reads, at a steady loudness, for as long as the hold lasts;
nothing in it is the party talking.

The music is made here (nothing recorded is used): nine pieces of 60 s,
three of each style, at -20 dBFS RMS, 8 kHz:
- `piano`: a melody of decaying piano-like notes over a chord pad and a
  bass line;
- `pad`: the melody played on a sustained, slightly detuned pad;
- `beat`: the pad melody with a hi-hat on every half beat.
Keys, tempi (80-120 bpm) and melodies differ by seed.

Tracks (DATA is the shared data folder; nothing of it is copied into the
project): each calm reader of `real_drift.py` (one half by `--split`),
their calm track (as `real_drift.py` makes it) cut at 90 s, 60 s of one
piece put in, the rest after, replayed as the customer and as the agent
(a different piece each time); and the real call
`calls/auto_repairs_40` with the hold at 120 s, the music on the customer's
channel and, separately, on the agent's (the other channel carrying only
faint line noise during the hold). The control is the same track with the
hold silent (line noise only): what the music adds is every alert raised
from the hold's start on beyond the control's. Reported per style: the
share of the hold counted as talk (speech frames) and as talk with a
pitch, and those added alerts by kind (an escalation to a supervisor
counted apart). `--line COND` passes every track
through one of line_conditions.py's conditions first (`ulaw`: the
telephone band).

And music *under* a talking customer (a radio behind them): each reader's
calm track, as the customer, with one piece (looped) mixed in 10 dB under
their voice's level from the start, and again switching on 60 s in; every
alert raised is one the music made (the calm tracks alone raise none).
Reported per style, with the talk the music took away or added against the
track without it. Needs sox, numpy and a release build.
"""

import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import line_conditions as lc  # noqa: E402
from real_drift import RATE, arguments, cache_dir, duration, on_line, raised, run, sox, speakers, track  # noqa: E402

STYLES = ("piano", "pad", "beat")
SEEDS = (1, 2, 3)
HOLD_S = 60.0
READER_HOLD_AT_S = 90.0
CALL_HOLD_AT_S = 120.0
MUSIC_DBFS = -20.0
NOISE_DBFS = -70.0


def note(f, dur, kind):
    """One note of `dur` s at `f` Hz: its harmonics under an envelope."""
    t = np.arange(int(dur * RATE)) / RATE
    if kind == "piano":
        env = np.exp(-t * 3.0) * (1 - np.exp(-t * 200))
        x = sum(0.6 ** k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(6))
    elif kind == "pad":
        env = np.minimum(1, t / 0.2) * np.minimum(1, (dur - t) / 0.2)
        wobble = 1 + 0.002 * np.sin(2 * np.pi * 5 * t)
        x = sum(0.5 ** k * np.sin(2 * np.pi * f * (k + 1) * t * wobble) for k in range(4))
    else:  # bass
        env = np.exp(-t * 2) * (1 - np.exp(-t * 300))
        x = sum(0.7 ** k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(8))
    return env * x


def add(out, x, at_s):
    i = int(at_s * RATE)
    if i < len(out):
        out[i:i + len(x)] += x[:len(out) - i]


def music(seconds, seed, style):
    """`seconds` of a piece in `style`, at MUSIC_DBFS."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    beat = 60 / rng.uniform(80, 120)
    root = int(rng.integers(-5, 5))
    hz = lambda semitones: 261.6 * 2 ** (semitones / 12)  # noqa: E731 (semitones re middle C)
    t, bar = 0.0, 0
    while t < seconds:  # a chord every two bars, the bass on every other beat
        r = root + (0, 5, 7, 3)[bar % 4]
        bar += 1
        for interval in (0, 4, 7):
            add(out, 0.15 * note(hz(r + interval - 12), beat * 8, "pad"), t)
        for b in range(4):
            add(out, 0.3 * note(hz(r - 24), beat * 2, "bass"), t + b * beat * 2)
        t += beat * 8
    t, degree = 0.0, int(rng.integers(0, 10))
    while t < seconds:  # the melody, on a pentatonic scale
        d = beat * rng.choice([0.5, 0.5, 1, 1, 1.5, 2])
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 12))
        if rng.random() > 0.15:
            semis = (0, 2, 4, 7, 9)[degree % 5] + 12 * (degree // 5) + root
            add(out, 0.35 * note(hz(semis), min(d * 1.5, 2.0), "piano" if style == "piano" else "pad"), t)
        t += d
    if style == "beat":
        t, n = 0.0, int(0.05 * RATE)
        while t < seconds:
            hat = np.diff(np.r_[0, rng.standard_normal(n) * np.exp(-np.arange(n) / RATE * 80)])
            add(out, 0.2 * hat, t)
            t += beat / 2
    return lc.at_dbfs(out, MUSIC_DBFS)


def piece(cache, style, seed):
    path = os.path.join(cache, f"music_{style}_{seed}.wav")
    if not os.path.exists(path):
        lc.write(path, music(HOLD_S, seed, style))
    return path


def quiet(cache):
    """The hold without music: the line's faint noise."""
    path = os.path.join(cache, "hold_quiet.wav")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        lc.write(path, rng.standard_normal(int(HOLD_S * RATE)) * 10 ** (NOISE_DBFS / 20))
    return path


def with_hold(cache, src, at_s, hold, tag):
    """`src` (8 kHz mono) with `hold` put in at `at_s`."""
    out = os.path.join(cache, f"{os.path.splitext(os.path.basename(src))[0]}__{tag}.wav")
    if not os.path.exists(out):
        x = lc.read(src)
        i = int(at_s * RATE)
        lc.write(out, np.concatenate([x[:i], lc.read(hold), x[i:]]))
    return out


def replay(binary, args, config, who, at_s):
    """(share of the hold that is talk, share that is talk with a pitch,
    alert kinds raised from the hold on)."""
    records, _ = run(binary, args + ["--frames"], config)
    hold = [r for r in records
            if r["type"] == "frame" and r["speaker"] == who and at_s <= r["t"] < at_s + HOLD_S]
    talk = sum(1 for f in hold if f.get("speech")) / max(len(hold), 1)
    pitched = sum(1 for f in hold if f.get("speech") and f.get("f0_hz")) / max(len(hold), 1)
    return talk, pitched, kinds_of(records, at_s)


def kinds_of(records, from_s=0.0):
    """The kind of every alert raised from `from_s` on, an escalation
    apart."""
    return [r["kind"] + (" escalated" if r["severity"] == "escalate" else "") for r in raised(records)
            if r["t"] >= from_s]


UNDER_DB = 10.0
UNDER_FROM_S = (0.0, 60.0)


def under(cache, src, music_path, tag, from_s):
    """`src` with the music looped under it, UNDER_DB under the voice's
    level (its frames within 25 dB of its loudest), from `from_s` on."""
    out = os.path.join(cache, f"{os.path.splitext(os.path.basename(src))[0]}__under_{tag}_{from_s:.0f}.wav")
    if not os.path.exists(out):
        x = lc.read(src)
        power = np.convolve(x ** 2, np.ones(240) / 240, "same")
        db = 10 * np.log10(power[::80] + 1e-12)
        active = np.repeat(db > np.percentile(db, 95) - 25, 80)[:len(x)]
        m = np.resize(lc.read(music_path), len(x))
        m *= np.sqrt(np.mean(x[active] ** 2) / np.mean(m ** 2) / 10 ** (UNDER_DB / 10))
        m[:int(from_s * RATE)] = 0.0
        lc.write(out, x + m)
    return out


def talk_s(records, who):
    """Seconds of `who`'s frames that are talk (the hop read from the frames)."""
    frames = [r for r in records if r["type"] == "frame" and r["speaker"] == who]
    hop = frames[1]["t"] - frames[0]["t"]
    return sum(1 for f in frames if f.get("speech")) * hop


def main():
    ap = arguments(__doc__)
    ap.add_argument("--line", default=None, help="a line_conditions.py condition for every track (e.g. ulaw)")
    a = ap.parse_args()
    through = on_line(a.line)
    cache = cache_dir(a, "tonewatch-hold-")
    pieces = [(style, seed, piece(cache, style, seed)) for style in STYLES for seed in SEEDS]
    silent = quiet(cache)
    # (where the music is, style) -> [talk shares], [pitched shares], Counter of added alerts
    talk = collections.defaultdict(list)
    pitched = collections.defaultdict(list)
    added = collections.defaultdict(collections.Counter)
    held = 0
    readers = [(n, u) for n, u in speakers(a.data, a.split).items()]
    k = 0
    for name, utts in readers:
        calm, _ = track(cache, f"{name}x2", utts * 2)  # as real_drift.py's
        if duration(calm) < READER_HOLD_AT_S + 30:
            continue
        held += 1
        control = through(cache, with_hold(cache, calm, READER_HOLD_AT_S, silent, "quiet"))
        for who in ("customer", "agent"):
            _, _, base = replay(a.bin, [control, "--speaker", who], a.config, who, READER_HOLD_AT_S)
            style, seed, path = pieces[k % len(pieces)]
            k += 1
            t = through(cache, with_hold(cache, calm, READER_HOLD_AT_S, path, f"{style}{seed}"))
            s, p, kinds = replay(a.bin, [t, "--speaker", who], a.config, who, READER_HOLD_AT_S)
            key = (f"reader as {who}", style)
            talk[key].append(s)
            pitched[key].append(p)
            added[key].update(kinds)
            added[key].subtract(base)
    call = os.path.join(a.data, "calls/auto_repairs_40")
    if os.path.isdir(call):
        chans = {}
        for who in ("agent", "customer"):
            src = os.path.join(cache, f"ar40_{who}.wav")
            if not os.path.exists(src):
                sox(os.path.join(call, f"{who}.wav"), "-r", RATE, "-c", 1, "-b", 16, src)
            chans[who] = src

        def stereo(agent, customer, tag):
            out = os.path.join(cache, f"ar40__{tag}__{a.line or 'clean'}.wav")
            if not os.path.exists(out):
                sox("-M", through(cache, agent), through(cache, customer), out)
            return out

        q = {w: with_hold(cache, chans[w], CALL_HOLD_AT_S, silent, "quiet") for w in chans}
        control = stereo(q["agent"], q["customer"], "quiet")
        for where in ("customer", "agent"):
            _, _, base = replay(a.bin, [control], a.config, where, CALL_HOLD_AT_S)
            for style, seed, path in pieces:
                m = with_hold(cache, chans[where], CALL_HOLD_AT_S, path, f"{style}{seed}")
                t = stereo(m, q["customer"], f"{style}{seed}_a") if where == "agent" \
                    else stereo(q["agent"], m, f"{style}{seed}_c")
                s, p, kinds = replay(a.bin, [t], a.config, where, CALL_HOLD_AT_S)
                key = (f"auto_repairs_40, on {where}", style)
                talk[key].append(s)
                pitched[key].append(p)
                added[key].update(kinds)
                added[key].subtract(base)
    print(f"split {a.split}: {held} readers with a {HOLD_S:.0f}-s hold at {READER_HOLD_AT_S:.0f} s "
          f"(one piece each, as customer and as agent); auto_repairs_40 with each of the "
          f"{len(pieces)} pieces at {CALL_HOLD_AT_S:.0f} s; line {a.line or 'clean'}")
    print(f"{'music':32s} {'style':6s} {'tracks':>6s} {'talk':>6s} {'pitched':>7s}  alerts added by the music")
    total = collections.Counter()
    for key in sorted(talk):
        n = len(talk[key])
        kinds = {k: v for k, v in added[key].items() if v}
        total.update(kinds)
        print(f"{key[0]:32s} {key[1]:6s} {n:6d} {np.mean(talk[key]):6.2f} {np.mean(pitched[key]):7.2f}  "
              + (", ".join(f"{k} {v:+d}" for k, v in sorted(kinds.items())) or "none"))
    print("all: " + (", ".join(f"{k} {v:+d}" for k, v in sorted(total.items())) or "none"))
    print()
    print(f"music {UNDER_DB:.0f} dB under a talking customer (one piece per reader, looped)")
    print(f"{'music':32s} {'style':6s} {'tracks':>6s} {'talk s':>12s}  alerts")
    rows = collections.defaultdict(lambda: [0, 0.0, 0.0, collections.Counter()])
    k = 0
    for name, utts in readers:
        calm, _ = track(cache, f"{name}x2", utts * 2)
        plain = through(cache, calm)
        base_records, _ = run(a.bin, [plain, "--speaker", "customer", "--frames"], a.config)
        style, seed, path = pieces[k % len(pieces)]
        k += 1
        for from_s in UNDER_FROM_S:
            t = through(cache, under(cache, calm, path, f"{style}{seed}", from_s))
            records, _ = run(a.bin, [t, "--speaker", "customer", "--frames"], a.config)
            row = rows[(f"under, from {from_s:.0f} s", style)]
            row[0] += 1
            row[1] += talk_s(base_records, "customer")
            row[2] += talk_s(records, "customer")
            row[3].update(kinds_of(records))
            row[3].subtract(kinds_of(base_records))
    total = collections.Counter()
    for key in sorted(rows):
        n, before, after, kinds = rows[key]
        kinds = {x: v for x, v in kinds.items() if v}
        total.update(kinds)
        print(f"{key[0]:32s} {key[1]:6s} {n:6d} {after - before:+12.1f}  "
              + (", ".join(f"{x} {v:+d}" for x, v in sorted(kinds.items())) or "none"))
    print("all: " + (", ".join(f"{x} {v:+d}" for x, v in sorted(total.items())) or "none"))


if __name__ == "__main__":
    main()
