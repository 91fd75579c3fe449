#!/usr/bin/env python3
"""Alert accuracy on rendered two-party calls with known event timelines.

usage: benches/eval/scenarios.py [--tonewatch target/release/tonewatch] [--keep DIR]
                                 [--reuse] [--variants 5] [--config FILE]

Renders calls with espeak-ng (agent left, customer right, 8 kHz, line noise near
-60 dBFS and -30 dB crosstalk each way), each as 16-bit PCM and as G.711 mu-law,
with one kind of event at a known time:

  calm            nothing happens (false alerts are counted here and everywhere)
  agent_pace      the agent speaks ~35 % faster from the event on
  agent_pitch     the agent speaks ~3 semitones higher from the event on
  customer_agitation  the customer gets louder (+8 dB), higher and faster
  overtalk        the agent starts 1.5 s before the customer's turn ends, 3 times
  dead_air        15 s of silence on both sides, twice
  agent_monologue the agent talks alone for 90 s

Truth onset: the first speech that carries the change (pace, pitch,
agitation), the first moment of double talk (overtalk), the moment silence
reaches 10 s (dead air), the moment the agent's talk since the customer's last
turn reaches 60 s (monologue). An event is found when an alert of its kind is
raised within 20 s of its onset; latency is from onset to that alert. Every
other raised alert is a false alert, counted per hour of audio outside event
windows. Needs: espeak-ng, sox, numpy.
"""
import argparse, collections, json, os, random, subprocess, tempfile, wave, zlib

import numpy as np

RATE = 8000
AGENT_LINES = [
    "Thank you for calling, my name is Sam, how can I help you today?",
    "Can I have your account number, please?",
    "Thank you. Let me pull up your details.",
    "I can see the order was placed on the fourth of this month.",
    "It left our warehouse on Tuesday and should arrive by Friday.",
    "Would you like me to send you the tracking number by email?",
    "I understand, let me check what options we have.",
    "I can arrange a replacement at no extra cost.",
    "The engineer can visit between eight and twelve tomorrow.",
    "Is there anything else I can help you with today?",
    "I have added a note to your account so my colleagues can see it.",
    "Your reference number is four five seven two nine.",
    "Let me just confirm your address for the delivery.",
    "That is all set up for you now.",
    "I will stay on the line while you check the router.",
    "Could you read me the serial number on the back, please?",
    "The refund will show on your statement in three to five days.",
    "I appreciate your patience while I look into this.",
]
CUSTOMER_LINES = [
    "Hello, I am calling about an order I placed last week.",
    "Yes, it is seven three one four two.",
    "It still has not arrived and I need it for the weekend.",
    "Okay, and what happens if it does not come by then?",
    "Yes please, send it to the usual address.",
    "My internet keeps dropping every evening around seven.",
    "I have already restarted the router twice today.",
    "The light on the front is blinking orange.",
    "Tomorrow morning is fine, I will be at home.",
    "Can you tell me how long the repair will take?",
    "No, that is everything, thank you for your help.",
    "It is the one on the kitchen counter, next to the phone.",
    "I was charged twice for the same month.",
    "Fine, but I would like that in writing please.",
]
ANGRY_LINES = [
    "This is the third time I have called about this!",
    "I have been waiting for forty minutes, this is ridiculous!",
    "Nobody ever calls me back, nobody!",
    "I want to speak to someone who can actually fix this!",
    "You people keep telling me the same thing every single time!",
    "I am paying for a service I am not getting!",
]
AGENT_VOICES = [("en-us+m3", 40), ("en+m1", 45), ("en-us+m7", 40), ("en+f3", 45), ("en-us+f2", 40)]
CUSTOMER_VOICES = [("en-us+f2", 55), ("en+m3", 50), ("en-us+f4", 50), ("en+m2", 45), ("en-us+m1", 55)]


def speak(tmp, voice, pitch, wpm, text, gain_db=0.0):
    raw = os.path.join(tmp, "raw.wav")
    out = os.path.join(tmp, "turn.raw")
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(wpm), "-w", raw, text],
                   check=True)
    subprocess.run(["sox", "-R", raw, "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32",
                    "-t", "raw", out, "highpass", "300", "lowpass", "3400", "norm", "-14"], check=True)
    x = np.fromfile(out, dtype=np.float32).astype(np.float64)
    # Trim espeak's leading and trailing silence so turn times are speech times.
    active = np.where(np.abs(x) > 10 ** (-50 / 20))[0]
    x = x[active[0]: active[-1] + 1] if len(active) else x
    return x * 10 ** (gain_db / 20)


class Call:
    def __init__(self, tmp, rng, variant):
        self.tmp, self.rng = tmp, rng
        self.agent_voice = AGENT_VOICES[variant % len(AGENT_VOICES)]
        self.customer_voice = CUSTOMER_VOICES[variant % len(CUSTOMER_VOICES)]
        self.tracks = {"agent": [], "customer": []}
        self.t = 0.5

    def turn(self, who, text=None, pitch_add=0, speed=1.0, gain_db=0.0, at=None):
        voice, pitch = self.agent_voice if who == "agent" else self.customer_voice
        lines = AGENT_LINES if who == "agent" else CUSTOMER_LINES
        text = text or self.rng.choice(lines)
        wpm = int(round(155 * speed)) if who == "agent" else int(round(165 * speed))
        x = speak(self.tmp, voice, pitch + pitch_add, wpm, text, gain_db)
        start = self.t if at is None else at
        self.tracks[who].append((start, x))
        end = start + len(x) / RATE
        self.t = max(self.t, end) + self.rng.uniform(0.4, 0.8)
        return start, end

    def exchange(self, n, **agent_kw):
        for _ in range(n):
            self.turn("agent", **agent_kw)
            self.turn("customer")

    def render(self, path_pcm, path_ulaw):
        n = int((self.t + 1.0) * RATE)
        mono = {}
        for who, turns in self.tracks.items():
            y = np.zeros(n)
            for start, x in turns:
                i = int(start * RATE)
                y[i: i + len(x)] += x[: n - i]
            mono[who] = y
        noise = lambda: 0.001 * np.random.default_rng(len(self.tracks["agent"])).standard_normal(n)
        left = mono["agent"] + 0.0316 * mono["customer"] + noise()
        right = mono["customer"] + 0.0316 * mono["agent"] + noise()[::-1]
        stereo = np.clip(np.stack([left, right], axis=1), -1, 1)
        with wave.open(path_pcm, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((stereo * 32767).astype("<i2").tobytes())
        subprocess.run(["sox", "-R", path_pcm, "-e", "u-law", "-b", "8", path_ulaw], check=True)
        return n / RATE


def scenario(kind, tmp, variant):
    """Builds one call; returns it and the list of (kind, onset_s, end_s)
    truth events (end_s: when the changed speech stops)."""
    rng = random.Random(zlib.crc32(f"{kind}-{variant}".encode()))
    c = Call(tmp, rng, variant)
    events = []
    if kind == "calm":
        c.exchange(16)
    elif kind in ("agent_pace", "agent_pitch"):
        c.exchange(16)
        kw = {"speed": 1.35} if kind == "agent_pace" else {"pitch_add": 20}
        first = last = None
        for _ in range(5):
            s, _ = c.turn("agent", **kw)
            first = first if first is not None else s
            _, last = c.turn("agent", **kw)
            c.turn("customer")
        events.append((kind, first, last))
        c.exchange(2)
    elif kind == "customer_agitation":
        c.exchange(16)
        first = last = None
        for _ in range(5):
            c.turn("agent")
            s, _ = c.turn("customer", text=rng.choice(ANGRY_LINES), pitch_add=25, speed=1.25,
                          gain_db=8)
            first = first if first is not None else s
            _, last = c.turn("customer", text=rng.choice(ANGRY_LINES), pitch_add=25, speed=1.25,
                             gain_db=8)
        events.append((kind, first, last))
        c.exchange(2)
    elif kind == "overtalk":
        c.exchange(8)
        for _ in range(3):
            c.turn("agent")
            _, end = c.turn("customer")
            c.t = end - 1.5  # the agent cuts in 1.5 s before the customer is done
            _, agent_end = c.turn("agent")
            events.append((kind, end - 1.5, agent_end))
            c.turn("customer")
            c.exchange(3)
    elif kind == "dead_air":
        c.exchange(8)
        for _ in range(2):
            c.turn("agent")
            c.t += 15.0
            events.append((kind, c.t - 15.0 + 10.0, c.t))
            c.turn("agent")
            c.exchange(4)
    elif kind == "agent_monologue":
        c.exchange(6)
        talk = 0.0
        onset = end = None
        while talk < 90.0:
            s, end = c.turn("agent")
            if onset is None and talk + (end - s) >= 60.0:
                onset = s + (60.0 - talk)
            talk += end - s
        events.append((kind, onset, end))
        c.exchange(3)
    return c, events


def run_tonewatch(binary, path, config=None):
    extra = ["--config", config] if config else []
    out = subprocess.run([binary, "replay", *extra, path], check=True, capture_output=True,
                         text=True)
    return [json.loads(l) for l in out.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tonewatch", default="target/release/tonewatch")
    ap.add_argument("--variants", type=int, default=5)
    ap.add_argument("--keep", help="keep the rendered calls in this folder")
    ap.add_argument("--reuse", action="store_true",
                    help="replay the calls already kept in --keep instead of rendering them")
    ap.add_argument("--config", help="a tonewatch config file to replay with")
    args = ap.parse_args()
    if args.reuse and not args.keep:
        ap.error("--reuse needs --keep DIR")
    kinds = ["calm", "agent_pace", "agent_pitch", "customer_agitation", "overtalk", "dead_air",
             "agent_monologue"]
    found = collections.defaultdict(list)   # kind -> latencies (None = missed)
    false_alerts = collections.Counter()
    calm_s = 0.0
    total_s = 0.0
    window_s = 20.0
    # Speech time is counted by a VAD with a 120 ms hangover per pause, so a
    # 60 s monologue is reached a little early: alerts up to 5 s before the
    # truth onset still count as found.
    early_s = 5.0
    with tempfile.TemporaryDirectory() as tmp:
        outdir = args.keep or tmp
        os.makedirs(outdir, exist_ok=True)
        for kind in kinds:
            for v in range(args.variants):
                pcm = os.path.join(outdir, f"{kind}_{v}.wav")
                ulaw = os.path.join(outdir, f"{kind}_{v}_ulaw.wav")
                truth = os.path.join(outdir, f"{kind}_{v}.json")
                if args.reuse:
                    with open(truth) as f:
                        kept = json.load(f)
                    events, dur = [tuple(e) for e in kept["events"]], kept["duration_s"]
                else:
                    call, events = scenario(kind, tmp, v)
                    dur = call.render(pcm, ulaw)
                if args.keep and not args.reuse:
                    with open(truth, "w") as f:
                        json.dump({"events": events, "duration_s": dur}, f)
                for path in (pcm, ulaw):
                    lines = run_tonewatch(args.tonewatch, path, args.config)
                    raised = [l for l in lines if l["type"] == "alert" and l["state"] == "raised"]
                    used = set()
                    for ek, onset, end in events:
                        hits = [i for i, a in enumerate(raised)
                                if a["kind"] == ek and onset - early_s <= a["t"] <= onset + window_s
                                and i not in used]
                        if hits:
                            used.add(hits[0])
                            found[ek].append(raised[hits[0]]["t"] - onset)
                        else:
                            found[ek].append(None)
                            print(f"   missed {ek} at {onset:.1f} s in {os.path.basename(path)}")
                        # Raising the same kind again while the event lasts
                        # (and a little after) is the same event, not a false one.
                        for i, a in enumerate(raised):
                            if a["kind"] == ek and onset - early_s <= a["t"] <= max(end, onset) + 10.0:
                                used.add(i)
                    for i, a in enumerate(raised):
                        if i in used:
                            continue
                        false_alerts[a["kind"]] += 1
                        print(f"   false {a['kind']} at {a['t']:.1f} s in {os.path.basename(path)}")
                    total_s += dur
                    calm_s += dur - sum(max(e, o) + 10.0 - (o - early_s) for _, o, e in events)
                print(f"{kind} #{v}: {dur:.0f} s, events "
                      f"{[(k, round(o, 1), round(e, 1)) for k, o, e in events]}", flush=True)
    print()
    print(f"{len(kinds) * args.variants * 2} calls, {total_s / 3600:.2f} h of audio, "
          f"{calm_s / 3600:.2f} h outside event windows")
    print(f"{'kind':<20} {'events':>6} {'recall':>7} {'median latency s':>17} {'max latency s':>14}")
    for kind in kinds[1:]:
        lat = found[kind]
        hit = [l for l in lat if l is not None]
        med = float(np.median(hit)) if hit else float("nan")
        mx = max(hit) if hit else float("nan")
        print(f"{kind:<20} {len(lat):>6} {len(hit) / max(len(lat), 1):>7.2f} {med:>17.2f} {mx:>14.2f}")
    n_false = sum(false_alerts.values())
    print(f"false alerts: {n_false} = {n_false / max(calm_s / 3600, 1e-9):.2f} per hour "
          f"({dict(false_alerts)})")


if __name__ == "__main__":
    main()
