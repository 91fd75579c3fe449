#!/usr/bin/env python3
"""What the line does to the alerts: gain steps, AGC, hum, hiss and the
telephone codec applied to real speech whose truth is known.

    benches/eval/line_conditions.py DATA [--split tune|report|all] [--bin PATH]
                                    [--config TOML] [--cache DIR]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Every condition is applied to real recordings:

- calm speech (the calm tracks of real_drift.py: LibriSpeech, nEMO and TESS
  neutral readings of the `--split` half, 8 kHz), replayed as the agent and
  as the customer: every pace, pitch, volume or agitation alert is false;
- the real call calls/auto_repairs_40 (both parties, the condition on the
  customer's line): every alert is listed beside the clean run's;
- neutral-then-angry customers (real_agitation.py's tracks): agitation
  recall, which a noise bed must not take away.

Conditions: clean; a gain step of +12 dB and of -12 dB halfway through
(the quieter half taken down, so nothing clips);
AGC (every 0.5 s block brought to -26 dBFS RMS with a 2 s memory, as a
line's automatic gain does); hum (50 Hz and its 3rd and 5th harmonics) at
-55 and -45 dBFS; hiss (white noise band-limited to 300-3400 Hz) at -55
and -45 dBFS; the -45 dBFS hum and hiss switching on halfway (`hum-45on`,
`hiss-45on`: a fan, a line changing, once the line's floor is known);
comfort noise at -50 and -40 dBFS (`cn-50`, `cn-40`: telephone-band noise
filling every pause of digital silence, stepping by up to ±2 dB every
0.2 s, none under speech: a receiver's comfort noise louder than the
recording's own background, which stays under the speech);
G.711 mu-law with 300-3400 Hz band limiting; the mobile codecs GSM 06.10
(full rate, 13 kbit/s) and AMR-NB at 12.2 kbit/s and at its lowest mode,
4.75 kbit/s (`gsm`, `amr`, `amr-4.75`: sox's encoders; they rebuild the
voice from a model of it, so its waveform and spectrum come back changed
(its pitch much less: line_pitch.py), and AMR's decoder returns it 38
samples late). Levels are RMS
in dB re a full-scale sine (AES17), as tonewatch reports them.

Needs sox, numpy and a release build (cargo build --release).
"""

import collections
import hashlib
import os
import subprocess
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import real_agitation  # noqa: E402
import real_drift  # noqa: E402

RATE = 8000
FULL_SCALE_SINE_MS = 0.5  # mean square of a full-scale sine
WRONG = ("agent_pace", "agent_pitch", "agent_volume", "customer_agitation")


def read(path):
    with wave.open(path) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768.0


RUMBLE_HZ = 60.0


def above_rumble(x):
    """`x` without what lies under RUMBLE_HZ (zero-phase, by FFT): a
    recording's rumble (handling noise, wind, a desk knocked), which lies
    under every voice's fundamental and is not speech however loud. One
    LibriSpeech reader carries it a median 33 dB over its speech band."""
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1.0 / RATE) < RUMBLE_HZ] = 0.0
    return np.fft.irfft(spec, len(x))


def write(path, x):
    y = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(y.tobytes())


def at_dbfs(x, db):
    """x scaled to an RMS of `db` dB re a full-scale sine."""
    ms = np.mean(x ** 2)
    return x * np.sqrt(FULL_SCALE_SINE_MS * 10 ** (db / 10) / ms)


def bandpass(x, lo=300.0, hi=3400.0):
    X = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    X[(f < lo) | (f > hi)] = 0
    return np.fft.irfft(X, len(x))


def agc(x, target_db=-26.0, block_s=0.5, memory_s=2.0):
    n = int(block_s * RATE)
    out = np.copy(x)
    ms_avg = None
    k = block_s / memory_s
    for i in range(0, len(x), n):
        b = x[i:i + n]
        ms = np.mean(b ** 2) + 1e-12
        ms_avg = ms if ms_avg is None else (1 - k) * ms_avg + k * ms
        gain = np.sqrt(FULL_SCALE_SINE_MS * 10 ** (target_db / 10) / ms_avg)
        out[i:i + n] = b * min(gain, 10 ** (30 / 20))  # an AGC's gain is bounded (+30 dB)
    return out


def condition(name, x, rng):
    t = np.arange(len(x)) / RATE
    half = len(x) // 2
    if name == "clean":
        return x
    if name.startswith("gain"):
        # A step of N dB halfway: the quieter half is taken down, so the
        # louder one never clips.
        step_db = float(name[4:])
        y = np.copy(x)
        if step_db > 0:
            y[:half] *= 10 ** (-step_db / 20)
        else:
            y[half:] *= 10 ** (step_db / 20)
        return y
    if name == "agc":
        return agc(x)
    if name.endswith("on"):
        # The bed switches on halfway.
        bed = condition(name[:-2], np.zeros_like(x), rng)
        bed[:half] = 0.0
        return x + bed
    if name.startswith("cn"):
        # Comfort noise: where the sender's line is silent (10 ms frames of
        # digital silence, the pauses), telephone-band noise at the level
        # named, stepping by up to ±2 dB every 0.2 s (as a receiver's comfort
        # noise follows the sender's silence descriptors); none under speech.
        frame = RATE // 100
        n = len(x) // frame * frame
        silent = np.zeros(len(x), bool)
        silent[:n] = np.repeat(np.abs(x[:n]).reshape(-1, frame).max(axis=1) < 1e-4, frame)
        step = RATE // 5
        gains = 10 ** (rng.uniform(-2.0, 2.0, len(x) // step + 1) / 20)
        bed = at_dbfs(bandpass(rng.standard_normal(len(x))), float(name[2:])) * np.repeat(gains, step)[:len(x)]
        return x + bed * silent
    if name.startswith("hum"):
        hum = sum(np.sin(2 * np.pi * f * t) / k for k, f in ((1, 50.0), (3, 150.0), (5, 250.0)))
        return x + at_dbfs(hum, float(name[3:]))
    if name.startswith("hiss"):
        return x + at_dbfs(bandpass(rng.standard_normal(len(x))), float(name[4:]))
    if name in ("ulaw", "alaw"):
        return x  # done by sox in render()
    raise ValueError(name)


CONDITIONS = ["clean", "gain+12", "gain-12", "agc", "hum-55", "hum-45", "hiss-55", "hiss-45", "hum-45on", "hiss-45on",
              "cn-50", "cn-40", "ulaw", "gsm", "amr", "amr-4.75"]
# The coded conditions: sox's file type for each codec, its options and the
# effects before encoding (G.711 through the telephone band; AMR-NB's mode
# 7 is 12.2 kbit/s, 0 is 4.75).
PHONE_BAND = ["sinc", "300-3400"]
CODECS = {"ulaw": ("g711.wav", ["-e", "u-law"], PHONE_BAND), "alaw": ("g711.wav", ["-e", "a-law"], PHONE_BAND),
          "gsm": ("gsm", [], []), "amr": ("amr-nb", ["-C", "7"], []), "amr-4.75": ("amr-nb", ["-C", "0"], [])}
# Every condition render() makes (A-law is left out of the calm-speech table).
RENDERED = CONDITIONS + [c for c in CODECS if c not in CONDITIONS]


def render(cache, src, cond):
    out = os.path.join(cache, f"{os.path.splitext(os.path.basename(src))[0]}__{cond}.wav")
    if os.path.exists(out):
        return out
    if cond in CODECS:
        suffix, options, effects = CODECS[cond]
        tmp = f"{out}.{suffix}"
        # -R: sox dithers down to G.711's 8 bits with a fixed seed, so
        # a render is the same in every cache.
        subprocess.run(["sox", "-R", src, "-r", str(RATE), *options, tmp, *effects], check=True,
                       stderr=subprocess.DEVNULL)
        subprocess.run(["sox", "-R", tmp, "-e", "signed", "-b", "16", out], check=True, stderr=subprocess.DEVNULL)
        os.remove(tmp)
        return out
    rng = np.random.default_rng(int(hashlib.sha1(os.path.basename(src).encode()).hexdigest()[:8], 16))
    write(out, condition(cond, read(src), rng))
    return out


def main():
    a = real_drift.arguments(__doc__).parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-line-")

    calm = []
    for name, utts in real_drift.speakers(a.data, a.split).items():
        path, _ = real_drift.track(cache, f"{name}x1", utts)
        calm.append(path)
    angry = []
    for name, parts in real_agitation.speakers(a.data, a.split).items():
        path, starts = real_agitation.track(cache, name, parts["neutral"] + parts["anger"], False)
        angry.append((name, path, starts[len(parts["neutral"])]))
    call = os.path.join(a.data, "calls/auto_repairs_40")
    customer = os.path.join(cache, "ar40_customer.wav")
    agent = os.path.join(cache, "ar40_agent.wav")
    if not os.path.exists(customer):
        subprocess.run(["sox", "-R", f"{call}/customer.wav", "-r", str(RATE), "-b", "16", customer], check=True)
        subprocess.run(["sox", "-R", f"{call}/agent.wav", "-r", str(RATE), "-b", "16", agent], check=True)

    print(f"split {a.split}: {len(calm)} calm speakers, {len(angry)} angry customers, auto_repairs_40")
    print(f"{'condition':10s} {'calm: false alerts (per hour)':34s} {'agitation recall':17s} auto_repairs_40 (customer line changed)")
    for cond in CONDITIONS:
        hours, false = 0.0, collections.Counter()
        for path in calm:
            p = render(cache, path, cond)
            hours += 2 * real_drift.duration(p) / 3600
            for side in ("agent", "customer"):
                alerts, _ = real_drift.replay(a.bin, [p, "--speaker", side], a.config)
                false.update(x["kind"] for x in alerts if x["kind"] in WRONG)
        hits = 0
        for name, path, start in angry:
            alerts, _ = real_drift.replay(a.bin, [render(cache, path, cond), "--speaker", "customer"], a.config)
            hits += any(x["kind"] == "customer_agitation" and x["t"] >= start for x in alerts)
        alerts, summary = real_drift.replay(a.bin, ["--agent", agent, "--customer", render(cache, customer, cond)], a.config)
        n = sum(false.values())
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(false.items())) or "none"
        talk = next((x["talk_s"] for x in summary.get("speakers", []) if x["speaker"] == "customer"), None)
        print(f"{cond:10s} {n:3d} ({n / hours:5.1f}/h: {kinds:18s}) {hits}/{len(angry):<15d} "
              + (", ".join(f"{x['kind']} {x['t']:.1f}" for x in alerts) or "no alerts")
              + f"; customer talk {talk} s")


if __name__ == "__main__":
    main()
