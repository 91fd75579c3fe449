#!/usr/bin/env python3
"""Pitch accuracy on the FDA database, tonewatch against Praat on the same frames.

usage: benches/eval/fda.py DATA_DIR [--tonewatch target/release/tonewatch]

DATA_DIR holds NAME.wav (20 kHz) and NAME.f0ref (one F0 per 15 ms, 0 = unvoiced).
Each file is measured as it is, after conversion to 8 kHz G.711 mu-law (sox), and
as a telephone line brings it (mu-law, 300-3400 Hz).
Reports, per condition and tracker: gross pitch error (share of frames voiced in
both that are more than 20 % off), median absolute error in cents, and voicing
errors (reference voiced but tracker not, and the reverse), over all frames.
Needs: sox, praat-parselmouth, numpy.
"""
import argparse, glob, json, os, subprocess, sys, tempfile

import numpy as np
import parselmouth

REF_STEP_S = 0.015


def tonewatch_track(binary, wav):
    out = subprocess.run([binary, "replay", "--frames", wav], check=True,
                         capture_output=True, text=True).stdout
    t, f0 = [], []
    for line in out.splitlines():
        rec = json.loads(line)
        if rec["type"] == "frame":
            t.append(rec["t"])
            f0.append(rec["f0_hz"] or 0.0)
    return np.array(t), np.array(f0)


def praat_track(wav):
    snd = parselmouth.Sound(wav)
    pitch = snd.to_pitch_ac(pitch_floor=75.0, pitch_ceiling=500.0)
    t = pitch.xs()
    f0 = pitch.selected_array["frequency"]
    return np.array(t), np.array(f0)


def at_times(t, f0, times):
    """Value of the frame nearest each time (0 when unvoiced or out of range)."""
    idx = np.searchsorted(t, times)
    idx = np.clip(idx, 1, len(t) - 1)
    left = t[idx - 1]
    nearest = np.where(np.abs(times - left) <= np.abs(t[idx] - times), idx - 1, idx)
    vals = f0[nearest]
    vals[np.abs(t[nearest] - times) > 0.011] = 0.0
    return vals


def score(ref, est):
    both = (ref > 0) & (est > 0)
    err = np.abs(est[both] - ref[both]) / ref[both]
    cents = np.abs(1200 * np.log2(est[both] / ref[both]))
    return {
        "frames": int(len(ref)),
        "voiced_both": int(both.sum()),
        "gpe": float((err > 0.2).mean()) if both.any() else float("nan"),
        "median_cents": float(np.median(cents)) if both.any() else float("nan"),
        "v_to_uv": float(((ref > 0) & (est <= 0)).sum() / len(ref)),
        "uv_to_v": float(((ref <= 0) & (est > 0)).sum() / len(ref)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--tonewatch", default="target/release/tonewatch")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = ap.parse_args()
    wavs = sorted(glob.glob(os.path.join(args.data_dir, "*.wav")))
    if args.limit:
        wavs = wavs[: args.limit]
    if not wavs:
        sys.exit(f"no .wav files in {args.data_dir}")
    pooled = {}
    with tempfile.TemporaryDirectory() as tmp:
        for wav in wavs:
            name = os.path.splitext(os.path.basename(wav))[0]
            ref = np.loadtxt(os.path.splitext(wav)[0] + ".f0ref").ravel()
            times = np.arange(len(ref)) * REF_STEP_S
            ulaw = os.path.join(tmp, name + "_ulaw8k.wav")
            # -R: the dither down to 8 bits with a fixed seed, so that a
            # run's figures repeat.
            subprocess.run(["sox", "-R", wav, "-r", "8000", "-e", "u-law", "-b", "8", ulaw], check=True)
            # A telephone line also cuts below 300 Hz: most of a voice's
            # fundamental is gone and only its harmonics are left.
            phone = os.path.join(tmp, name + "_phone8k.wav")
            subprocess.run(["sox", "-R", wav, "-r", "8000", "-e", "u-law", "-b", "8", phone, "sinc", "300-3400"],
                           check=True, stderr=subprocess.DEVNULL)
            for cond, path in (("20 kHz PCM", wav), ("8 kHz mu-law", ulaw), ("phone band", phone)):
                for tracker, fn in (("tonewatch", lambda p: tonewatch_track(args.tonewatch, p)),
                                    ("praat", praat_track)):
                    t, f0 = fn(path)
                    est = at_times(t, f0, times)
                    key = (cond, tracker)
                    r, e = pooled.setdefault(key, ([], []))
                    r.append(ref)
                    e.append(est)
    print(f"FDA: {len(wavs)} files, reference every 15 ms")
    print(f"{'condition':<14} {'tracker':<10} {'frames':>7} {'voiced both':>11} {'GPE %':>6} "
          f"{'median cents':>12} {'V->UV %':>8} {'UV->V %':>8}")
    for (cond, tracker), (r, e) in pooled.items():
        s = score(np.concatenate(r), np.concatenate(e))
        print(f"{cond:<14} {tracker:<10} {s['frames']:>7} {s['voiced_both']:>11} "
              f"{100 * s['gpe']:>6.2f} {s['median_cents']:>12.1f} "
              f"{100 * s['v_to_uv']:>8.2f} {100 * s['uv_to_v']:>8.2f}")


if __name__ == "__main__":
    main()
