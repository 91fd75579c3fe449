#!/usr/bin/env python3
"""A line's tones before real speech: how much of them is taken for talk.

    benches/eval/tones.py DATA [--split tune|report|all] [--bin PATH]
                          [--config TOML] [--cache DIR] [--line COND]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. A recording of an outbound call starts before anyone
answers: call-progress tones lie in the voice's pitch range, and a
recorder may beep. Before each calm track of real_drift.py (LibriSpeech,
nEMO and TESS neutral readings of the `--split` half, 8 kHz), 20 s of one
line signal (synthesised here, -20 dBFS per tone; exact truth: none of it
is talk), then the track, replayed as the customer:

- `ring-eu`: ringback 425 Hz, 1 s on, 4 s off;
- `ring-us`: ringback 440 + 480 Hz, 2 s on, 4 s off;
- `ring-uk`: ringback 400 + 450 Hz, 0.4 s on, 0.2 off, 0.4 on, 2 s off;
- `busy`: 480 + 620 Hz, 0.5 s on, 0.5 s off;
- `dial`: 350 + 440 Hz, continuous;
- `beep`: a recorder's beep, 1400 Hz for 0.5 s every 15 s.

`--line` sends every made track (signal and speech) through a
line_conditions.py condition first (`ulaw`, `gsm`, `amr`, `amr-4.75`: a
tone through a codec that models a voice comes back less still).

Per signal, summed over the speakers: the seconds of the signal that
replay calls talk and that carry a pitch (truth: 0), and the alerts of any
kind raised on the whole track against the same track without the signal.

Needs sox and a release build (cargo build --release).
"""

import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import line_conditions as lc  # noqa: E402
import real_drift  # noqa: E402

LEAD_S = 20.0
TONE_DBFS = -20.0
# name: (frequencies Hz, [(on s, off s), ...] repeated over LEAD_S)
SIGNALS = {
    "ring-eu": ((425.0,), [(1.0, 4.0)]),
    "ring-us": ((440.0, 480.0), [(2.0, 4.0)]),
    "ring-uk": ((400.0, 450.0), [(0.4, 0.2), (0.4, 2.0)]),
    "busy": ((480.0, 620.0), [(0.5, 0.5)]),
    "dial": ((350.0, 440.0), [(LEAD_S, 0.0)]),
    "beep": ((1400.0,), [(0.5, 14.5)]),
}


def lead(name):
    """LEAD_S of the signal: each tone at TONE_DBFS (RMS re a full-scale
    sine), the cadence repeated from the start."""
    hz, cadence = SIGNALS[name]
    n = int(LEAD_S * lc.RATE)
    t = np.arange(n) / lc.RATE
    gate = np.zeros(n, bool)
    at = 0.0
    while at < LEAD_S:
        for on, off in cadence:
            gate[int(at * lc.RATE):int(min(at + on, LEAD_S) * lc.RATE)] = True
            at += on + off
    amp = np.sqrt(2 * lc.FULL_SCALE_SINE_MS) * 10 ** (TONE_DBFS / 20)
    return sum(amp * np.sin(2 * np.pi * f * t) for f in hz) * gate


def frames_and_alerts(binary, path, config):
    lines, _ = real_drift.run(binary, [path, "--speaker", "customer", "--frames"], config)
    frames = [l for l in lines if l["type"] == "frame"]
    alerts = [l["kind"] for l in real_drift.raised(lines)]
    return frames, alerts


def main():
    ap = real_drift.arguments(__doc__)
    ap.add_argument("--line", help="a line_conditions.py condition every made track goes through (e.g. amr)")
    a = ap.parse_args()
    through = real_drift.on_line(a.line)
    cache = real_drift.cache_dir(a, "tonewatch-tones-")
    tracks = [real_drift.track(cache, f"{name}x1", utts)[0]
              for name, utts in real_drift.speakers(a.data, a.split).items()]
    print(f"split {a.split}: {len(tracks)} calm speakers, {LEAD_S:.0f} s of a line signal before each, as the customer"
          + (f", every track through `{a.line}`" if a.line else ""))
    print(f"{'signal':8s} {'in the signal: talk s':>22s} {'pitched s':>10s}   alerts (without the signal)")
    plain = collections.Counter()
    for path in tracks:
        plain.update(frames_and_alerts(a.bin, through(cache, path), a.config)[1])
    for name in SIGNALS:
        talk = pitched = 0.0
        alerts = collections.Counter()
        for path in tracks:
            out = os.path.join(cache, f"{os.path.splitext(os.path.basename(path))[0]}__{name}.wav")
            if not os.path.exists(out):
                lc.write(out, np.concatenate([lead(name), lc.read(path)]))
            frames, raised = frames_and_alerts(a.bin, through(cache, out), a.config)
            hop = frames[1]["t"] - frames[0]["t"]
            before = [f for f in frames if f["t"] < LEAD_S]
            talk += sum(f["speech"] for f in before) * hop
            pitched += sum(f["f0_hz"] is not None for f in before) * hop
            alerts.update(raised)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(alerts.items())) or "none"
        was = ", ".join(f"{k} {v}" for k, v in sorted(plain.items())) or "none"
        print(f"{name:8s} {talk:22.1f} {pitched:10.1f}   {kinds} ({was})")


if __name__ == "__main__":
    main()
