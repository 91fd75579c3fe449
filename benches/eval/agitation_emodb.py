#!/usr/bin/env python3
"""Does the agitation score rank anger above neutral? EmoDB neutral/anger pairs.

usage: benches/eval/agitation_emodb.py DATA_DIR [--tonewatch target/release/tonewatch]

For every pair (same speaker, same sentence, complete within the file) the
customer's baseline comes from that speaker's other neutral readings, as a
calm start of a call would give it: one mono "call" is the other neutral
files back to back, then the pair's neutral reading; another is the same
calm start, then the pair's angry reading. The score of a reading is the
highest agitation tonewatch reports while it plays. A pair is ranked right
when anger scores higher. The copies are peak-normalised, so loudness
carries no contrast here (pitch, range and rate do). A reading is 2-3 s,
so the score is taken unsmoothed (`smooth_s = 0`): this ranks the cues,
not the alert, which waits for agitation to hold. Needs: sox, numpy.
"""
import argparse, collections, csv, json, os, subprocess, tempfile

import numpy as np

CONFIG = """
[alerts.baseline]
# EmoDB gives each speaker only a few seconds of neutral speech.
warmup_voiced_s = 3.0

[alerts.customer_agitation]
# One reading is 2-3 s: rank the cues of that reading, not a 10-s mean.
smooth_s = 0.0
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--tonewatch", default="target/release/tonewatch")
    args = ap.parse_args()
    emo = os.path.join(args.data_dir, "emotion", "emodb")
    rows = list(csv.DictReader(open(os.path.join(emo, "index.csv"))))
    wav = lambda r: os.path.join(emo, "wav", os.path.basename(r["path"]))
    neutral = collections.defaultdict(list)
    for r in rows:
        if r["emotion"] == "neutral":
            neutral[r["speaker"]].append(r)
    pairs = collections.defaultdict(dict)
    for r in rows:
        if r["complete_within_file"] == "True" and r["emotion"] in ("neutral", "anger"):
            pairs[r["pair_key"]][r["emotion"]] = r
    pairs = {k: v for k, v in pairs.items() if len(v) == 2}
    right, scores = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "cfg.toml")
        open(cfg, "w").write(CONFIG)
        for key, pair in sorted(pairs.items()):
            n = pair["neutral"]
            calm = [wav(r) for r in neutral[n["speaker"]] if r["path"] != n["path"]]
            result = {}
            for emotion in ("neutral", "anger"):
                target = wav(pair[emotion])
                call = os.path.join(tmp, f"{key}_{emotion}.wav")
                subprocess.run(["sox", "-R", *calm, target, call], check=True)
                start = float(subprocess.run(["soxi", "-D", call], capture_output=True, text=True,
                                             check=True).stdout) - 2.0
                out = subprocess.run([args.tonewatch, "replay", "--speaker", "customer",
                                      "--config", cfg, call], capture_output=True, text=True,
                                     check=True).stdout
                ag = [json.loads(l) for l in out.splitlines() if '"agitation"' in l]
                during = [a["score"] for a in ag if a["t"] >= start]
                result[emotion] = max(during) if during else 0.0
            scores.append((key, result["neutral"], result["anger"]))
            right += result["anger"] > result["neutral"]
    print(f"{len(scores)} pairs: anger scored above neutral in {right} "
          f"({100 * right / max(len(scores), 1):.0f} %)")
    n = np.array([s[1] for s in scores])
    a = np.array([s[2] for s in scores])
    print(f"median score: neutral {np.median(n):.2f}, anger {np.median(a):.2f}")
    for key, sn, sa in scores:
        if sa <= sn:
            print(f"   {key}: neutral {sn:.2f} >= anger {sa:.2f}")


if __name__ == "__main__":
    main()
