#!/usr/bin/env python3
"""Speech activity on real speech under line conditions, tonewatch side by
side with WebRTC's VAD.

    python3 benches/eval/vad.py DATA [--split tune|report|all] [--bin PATH]
                                [--cache DIR] [--mode 0-3]

Needs numpy, sox and `webrtcvad` (`pip install webrtcvad-wheels`), and a
release build. DATA is the shared data folder (../shared/data); nothing of
it is copied into the project.

Truth: the calm tracks of real_drift.py (real read utterances of the
`--split` half, 8 kHz, 0.6 s of silence between them), frame by frame
(30 ms every 10 ms, as tonewatch frames): a frame is speech when it lies
inside an utterance and its level on the clean track above 60 Hz (rumble
under every voice's fundamental is not speech) is within 25 dB of
that utterance's loud speech (its 95th-percentile frame), gaps of up to
0.2 s between such frames included (stop closures, word joins); the pauses
between utterances and longer quiet stretches inside them are not speech.
The same truth holds for every condition of line_conditions.py (gain
steps, AGC, hum, hiss, comfort noise, mu-law, the mobile codecs) applied
to the track.

Per condition and VAD: speech-frame recall and false-alarm rate (share of
non-speech frames called speech). Both VADs hold speech a little past its
end (tonewatch 120 ms), which counts as false alarm here.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import line_conditions as lc  # noqa: E402
import real_drift  # noqa: E402

HOP = 80  # samples at 8 kHz: 10 ms
WIN = 240  # 30 ms
SPEECH_WITHIN_DB = 25.0
BRIDGE_FRAMES = 20  # 0.2 s


def frame_db(x):
    n = max(0, (len(x) - WIN) // HOP + 1)
    out = np.full(n, -120.0)
    for k in range(n):
        # Centred at k * HOP as tonewatch's frames: window from k*HOP - WIN/2.
        a = max(0, k * HOP - WIN // 2)
        seg = x[a:a + WIN]
        ms = np.mean(seg ** 2) if len(seg) else 0.0
        out[k] = 10 * np.log10(ms / lc.FULL_SCALE_SINE_MS + 1e-12)
    return out


def truth(cache, name, utts):
    path, _ = real_drift.track(cache, f"{name}x1", utts)
    x = lc.read(path)
    db = frame_db(lc.above_rumble(x))
    speech = np.zeros(len(db), bool)
    t = 0.0
    for u in utts:
        plain = os.path.join(cache, f"{name}x1_{utts.index(u)}.wav".replace(":", "_"))
        d = real_drift.duration(plain)
        a, b = int(round(t * 100)), min(len(db), int(round((t + d) * 100)))
        if b > a:
            loud = np.quantile(db[a:b], 0.95)
            speech[a:b] = db[a:b] >= loud - SPEECH_WITHIN_DB
            # Gaps shorter than BRIDGE_S between speech frames (stop
            # closures, word joins) are speech, as a listener hears them.
            idx = np.flatnonzero(speech[a:b]) + a
            for i, j in zip(idx[:-1], idx[1:]):
                if 1 < j - i <= BRIDGE_FRAMES:
                    speech[i:j] = True
        t += d + real_drift.PAUSE_S
    return path, speech


def tonewatch_vad(binary, path):
    r = subprocess.run([binary, "replay", path, "--speaker", "agent", "--frames"],
                       capture_output=True, text=True, check=True)
    return np.array([l.startswith('{"type":"frame"') and '"speech":true' in l
                     for l in r.stdout.splitlines() if l.startswith('{"type":"frame"')])


def webrtc_vad(path, mode):
    import webrtcvad
    v = webrtcvad.Vad(mode)
    x = lc.read(path)
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16).tobytes()
    n = len(x) // HOP
    return np.array([v.is_speech(pcm[2 * HOP * k:2 * HOP * (k + 1)], lc.RATE) for k in range(n)])


def score(pred, truth):
    n = min(len(pred), len(truth))
    p, t = pred[:n], truth[:n]
    return p[t].mean(), p[~t].mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--split", default="report", choices=["tune", "report", "all"])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../target/release/tonewatch"))
    ap.add_argument("--cache", help="keep rendered tracks here (default: a temporary folder)")
    ap.add_argument("--mode", type=int, default=2, help="WebRTC VAD aggressiveness, 0-3 (default 2)")
    a = ap.parse_args()
    cache = a.cache or tempfile.mkdtemp(prefix="tonewatch-vad-")
    os.makedirs(cache, exist_ok=True)

    tracks = [truth(cache, name, utts) for name, utts in real_drift.speakers(a.data, a.split).items()]
    frames = sum(len(t) for _, t in tracks)
    share = sum(t.sum() for _, t in tracks) / frames
    print(f"split {a.split}: {len(tracks)} speakers, {frames / 6000:.1f} min, {100 * share:.0f} % speech frames by the truth")
    print(f"{'condition':10s} {'tonewatch recall / false alarm':32s} webrtcvad (mode {a.mode}) recall / false alarm")
    for cond in lc.CONDITIONS:
        tw, wr = [], []
        for path, t in tracks:
            p = lc.render(cache, path, cond)
            tw.append((tonewatch_vad(a.bin, p), t))
            wr.append((webrtc_vad(p, a.mode), t))

        def pooled(pairs):
            hit = sum(score(p, t)[0] * t.sum() for p, t in pairs) / sum(t.sum() for _, t in pairs)
            fa = sum(score(p, t)[1] * (~t).sum() for p, t in pairs) / sum((~t).sum() for _, t in pairs)
            return hit, fa

        (th, tf), (wh, wf) = pooled(tw), pooled(wr)
        print(f"{cond:10s} {100 * th:5.1f} % / {100 * tf:4.1f} %{'':17s} {100 * wh:5.1f} % / {100 * wf:4.1f} %")


if __name__ == "__main__":
    main()
