#!/usr/bin/env python3
"""Speaking-rate accuracy on real speech.

usage: benches/eval/rate.py DATA_DIR [--tonewatch target/release/tonewatch]

DATA_DIR is the shared data folder (with rate/mfa and emotion/emodb).
1. rate/mfa/english_fast.wav vs english_slow.wav: the same sentence (15 syllables;
   the fast reading adds a filled pause "um", 16). True rate = syllables per second,
   of the speech span and of talking time (pauses over 0.3 s left out, as tonewatch
   does), both found by an energy threshold independent of tonewatch (frames of 20 ms
   within 35 dB of the loudest). Reports the measured and true fast/slow ratios.
2. rate/mfa/acoustic_corpus.wav: its "talking pretty fast" and "talking really slow"
   parts, with truth from the TextGrid (vowel phones per second of words); the
   syllable rate and the level modulation (the tempo "slow down" watches) of each.
3. emotion/emodb: files whose speech is complete within the file; tonewatch's rate
   against the syllable labels' rate (Pearson r, and mean ratio).
Needs: sox, numpy.
"""
import argparse, csv, json, os, subprocess, sys, tempfile

import numpy as np


def summary_rate(binary, wav, extra=()):
    out = subprocess.run([binary, "replay", wav, *extra], check=True,
                         capture_output=True, text=True).stdout
    s = json.loads(out.splitlines()[-1])
    return s["speakers"][0]["rate_sps"], s["speakers"][0]["talk_s"]


def median_modulation(binary, wav):
    """Median level modulation (dB/s) over the frames that have one."""
    out = subprocess.run([binary, "replay", "--frames", wav], check=True,
                         capture_output=True, text=True).stdout
    values = [f["modulation_db_s"] for f in map(json.loads, out.splitlines())
              if f["type"] == "frame" and f.get("modulation_db_s") is not None]
    return float(np.median(values))


def speech_times_s(wav):
    """(span, articulation time): the span from the first to the last frame
    within 35 dB of the loudest, and the time of such frames with gaps under
    0.3 s bridged (pauses left out), from 20 ms frames."""
    raw = subprocess.run(["sox", "-R", wav, "-t", "f32", "-c", "1", "-"], check=True,
                         capture_output=True).stdout
    rate = int(subprocess.run(["soxi", "-r", wav], check=True, capture_output=True,
                              text=True).stdout)
    x = np.frombuffer(raw, dtype=np.float32)
    hop = rate // 50
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    db = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    on = db > db.max() - 35
    active = np.where(on)[0]
    span = (active[-1] - active[0] + 1) * hop / rate
    talk = 0
    last = None
    for i in active:
        if last is not None and i - last <= 15:  # 15 frames = 0.3 s
            talk += i - last
        else:
            talk += 1
        last = i
    return span, talk * hop / rate


def textgrid(path):
    lines = [l.strip() for l in open(path)]
    tiers, i = {}, 0
    while i < len(lines):
        if lines[i] == '"IntervalTier"':
            name, n = lines[i + 1].strip('"'), int(lines[i + 4])
            i += 5
            tiers[name] = [(float(lines[i + 3 * k]), float(lines[i + 3 * k + 1]),
                            lines[i + 3 * k + 2].strip('"')) for k in range(n)]
            i += 3 * n
        else:
            i += 1
    return tiers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--tonewatch", default="target/release/tonewatch")
    args = ap.parse_args()
    mfa = os.path.join(args.data_dir, "rate", "mfa")
    tw = args.tonewatch

    print("1. english_fast vs english_slow (same sentence)")
    fast, slow = os.path.join(mfa, "english_fast.wav"), os.path.join(mfa, "english_slow.wav")
    (rf, _), (rs, _) = summary_rate(tw, fast), summary_rate(tw, slow)
    (sf, af), (ss, a_s) = speech_times_s(fast), speech_times_s(slow)
    print(f"   speech span: fast {sf:.2f} s, slow {ss:.2f} s; without pauses over 0.3 s: "
          f"fast {af:.2f} s, slow {a_s:.2f} s")
    print(f"   tonewatch rate (syllables per second of talking): fast {rf:.2f}/s, "
          f"slow {rs:.2f}/s, ratio {rf / rs:.3f}")
    for syl_fast, note in ((15, "15 syllables each"), (16, "fast with its filled pause, 16")):
        span_true = (syl_fast / sf) / (15 / ss)
        art_true = (syl_fast / af) / (15 / a_s)
        print(f"   {note}: true ratio over the span {span_true:.3f} (measured/true "
              f"{rf / rs / span_true:.3f}); over talking time {art_true:.3f} (measured/true "
              f"{rf / rs / art_true:.3f})")

    print("2. acoustic_corpus: fast part vs slow part (TextGrid truth)")
    grid = textgrid(os.path.join(mfa, "acoustic_corpus.TextGrid"))
    parts = {"fast": (1.0, 7.3), "slow": (8.5, 22.0)}
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (a, b) in parts.items():
            words = [w for w in grid["words"] if w[2] and a <= w[0] < b]
            vowels = [p for p in grid["phones"] if a <= p[0] < b and p[2][-1:].isdigit()]
            word_s = sum(w[1] - w[0] for w in words)
            truth = len(vowels) / word_s
            cut = os.path.join(tmp, name + ".wav")
            subprocess.run(["sox", "-R", os.path.join(mfa, "acoustic_corpus.wav"), cut, "trim",
                            str(a), str(b - a)], check=True)
            r, talk = summary_rate(tw, cut)
            m = median_modulation(tw, cut)
            measured[name] = (r, truth, m)
            print(f"   {name}: {len(vowels)} vowels in {word_s:.2f} s of words = {truth:.2f}/s; "
                  f"tonewatch {r:.2f}/s over {talk:.2f} s of speech, modulation {m:.1f} dB/s")
    mr = measured["fast"][0] / measured["slow"][0]
    tr = measured["fast"][1] / measured["slow"][1]
    mm = measured["fast"][2] / measured["slow"][2]
    print(f"   ratio fast/slow: measured {mr:.3f}, true {tr:.3f}, measured/true {mr / tr:.3f}; "
          f"modulation {mm:.3f} (measured/true {mm / tr:.3f})")

    print("3. EmoDB files with complete speech: rate vs syllable labels")
    emo = os.path.join(args.data_dir, "emotion", "emodb")
    ours, truth = [], []
    with open(os.path.join(emo, "index.csv")) as f:
        for row in csv.DictReader(f):
            if row["complete_within_file"] != "True":
                continue
            wav = os.path.join(emo, "wav", os.path.basename(row["path"]))
            r, _ = summary_rate(tw, wav)
            if r is None:
                continue
            ours.append(r)
            truth.append(float(row["syllable_rate_per_s"]))
    ours, truth = np.array(ours), np.array(truth)
    r = np.corrcoef(ours, truth)[0, 1]
    print(f"   {len(ours)} files: Pearson r = {r:.3f}; mean measured/true = "
          f"{(ours / truth).mean():.3f}; median |error| = "
          f"{100 * np.median(np.abs(ours / truth - 1)):.1f} %")


if __name__ == "__main__":
    main()
