#!/usr/bin/env python3
"""What the line does to the pitch: each calm reader's pitch track on the
clean track against the same track through each line condition.

    benches/eval/line_pitch.py DATA [--split tune|report|all] [--bin PATH]
                               [--cache DIR] [--conditions LIST]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. The calm tracks of real_drift.py (LibriSpeech, nEMO and
TESS neutral readings of the `--split` half, 8 kHz) are replayed clean and
through line_conditions.py's conditions (by default the telephone band and
the mobile codecs: `ulaw`, `gsm`, `amr`, `amr-4.75`). On every frame
with a pitch on both, per reader: the share more than 3 semitones off the
clean track's, the share an octave off (12 +- 2 semitones: the tracker
taking a harmonic for the fundamental, which a line that cuts the
fundamental away invites) and the shift of the reader's median pitch.

This is tonewatch against itself, not against a reference: the clean
track's own gross error is FDA's (`fda.py`, under 1 %). A reader whose
pitch doubles on part of the line reads as a higher, livelier voice there;
the alerts compare a reader with their own baseline on the same line, so
they move less than the pitch does (see line_conditions.py).

Needs sox, numpy and a release build (cargo build --release).
"""

import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import line_conditions as lc  # noqa: E402
import real_drift  # noqa: E402

OFF_ST = 3.0
OCTAVE_WITHIN_ST = 2.0
DEFAULT_CONDITIONS = "ulaw,gsm,amr,amr-4.75"


def pitch_st(binary, path, config):
    """Per frame: the pitch in semitones re 100 Hz (NaN without one)."""
    cmd = [binary, "replay", "--speaker", "agent", "--frames", path] + (["--config", config] if config else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return np.array([12 * np.log2(f["f0_hz"] / 100.0) if f.get("f0_hz") else np.nan
                     for f in map(json.loads, out.splitlines()) if f["type"] == "frame"])


def main():
    ap = real_drift.arguments(__doc__)
    ap.add_argument("--conditions", default=DEFAULT_CONDITIONS,
                    help=f"line_conditions.py conditions, comma-separated (default {DEFAULT_CONDITIONS})")
    a = ap.parse_args()
    conds = a.conditions.split(",")
    unknown = [c for c in conds if c not in lc.RENDERED]
    if unknown:
        sys.exit(f"unknown condition(s) {', '.join(unknown)}; line_conditions.py has {', '.join(lc.RENDERED)}")
    cache = real_drift.cache_dir(a, "tonewatch-linepitch-")
    print(f"split {a.split}: per reader, frames with a pitch on both tracks: share > {OFF_ST:.0f} st off the "
          "clean track's / share an octave off / shift of the median (st)")
    print(f"{'reader':28s} {'clean median':>12s}  " + "  ".join(f"{c:>20s}" for c in conds))
    pooled = {c: [0, 0, 0] for c in conds}
    for name, utts in real_drift.speakers(a.data, a.split).items():
        calm, _ = real_drift.track(cache, f"{name}x1", utts)
        clean = pitch_st(a.bin, calm, a.config)
        cells = []
        for c in conds:
            line = pitch_st(a.bin, lc.render(cache, calm, c), a.config)
            n = min(len(clean), len(line))
            both = ~np.isnan(clean[:n]) & ~np.isnan(line[:n])
            d = np.abs(line[:n][both] - clean[:n][both])
            off, octave = int(np.sum(d > OFF_ST)), int(np.sum(np.abs(d - 12) <= OCTAVE_WITHIN_ST))
            pooled[c][0] += off
            pooled[c][1] += octave
            pooled[c][2] += len(d)
            shift = np.median(line[:n][both]) - np.median(clean[:n][both])
            cells.append(f"{100 * off / len(d):5.1f} /{100 * octave / len(d):5.1f} % {shift:+5.1f}")
        hz = 100 * 2 ** (np.nanmedian(clean) / 12)
        print(f"{name:28s} {hz:9.0f} Hz  " + "  ".join(f"{x:>20s}" for x in cells))
    print(f"{'all readers':28s} {'':12s}  " + "  ".join(
        f"{100 * p[0] / p[2]:5.1f} /{100 * p[1] / p[2]:5.1f} %{'':6s}" for p in pooled.values()))


if __name__ == "__main__":
    main()
