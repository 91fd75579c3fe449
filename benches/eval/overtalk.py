#!/usr/bin/env python3
"""Overtalk, backchannels and speech activity on two-party calls made from
real speech with known overlaps, under line conditions.

    benches/eval/overtalk.py DATA [--split tune|report|all] [--bin PATH]
                             [--config TOML] [--cache DIR] [--mode 0-3]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. Needs numpy, sox and a release build; WebRTC's VAD
(`pip install webrtcvad-wheels`) is measured side by side when installed.

Calls: the calm speakers of real_drift.py (LibriSpeech, nEMO and TESS
neutral readings) of the `--split` half, paired in turn (each speaker once
as the agent, once as the customer), at 8 kHz, the agent at -24 dBFS and
the customer at -30 dBFS (RMS of the speech). A turn is a speaker's next
utterances (their leading and trailing silence cut), joined with 0.25 s
pauses until it lasts at least 4 s. Rounds
cycle through five exchanges, each a customer turn and the agent's reply:

- `exchange`: the agent answers 0.4-1.0 s after the customer stops;
- `backchannel`: the same, and inside the customer's turn the agent says
  one short word (0.15-0.6 s, cut at its pauses from their own speech);
- `interrupt`: the agent starts 1.5-3 s before the customer stops;
- `latch`: the agent starts 0.2 s before the customer stops;
- `cut_in`: the customer starts 1.5-3 s before the *agent* stops.

Truth, frame by frame (10 ms): a party speaks where the placed audio,
above 60 Hz (rumble under every voice's fundamental is not speech), is
within 25 dB of that utterance's loud speech (its 95th-percentile frame)
and 9 dB or more above the recording's own noise (its 10th-percentile
frame: some LibriSpeech readings have a noise floor only 20-30 dB under
the speech), gaps of up to 0.2 s bridged; a party's turn is their speech with pauses
under 0.5 s bridged (alerts.turns.gap_s). An agent start inside the
customer's turn is overtalk when, from that start and while that turn goes
on, both speak for 0.7 s or more counting only frames where both speak and
bridging breaks of up to 0.3 s (the rule's 0.5 s plus a margin); it is not
overtalk when that is under 0.3 s (backchannels, latches) or when the
customer started while the agent's turn held (their cut-ins); in between,
or when a cut-in came in the agent's pause of 0.5 s or more, it is left
out of the scores. Overtalk recall is the share of true overtalks with an
`overtalk` alert raised from the agent's start to 1 s after the overlap
ends; precision the share of overtalk alerts that match one; latency is
from the agent's start (their first speech frame: read utterances begin
with a little silence). Backchannels: the summary's count beside the
number placed inside the customer's turn. VAD: frame recall and false alarm per party against the
truth. Other alerts: every other raised alert, by kind (gain steps and
noise must add none).

Conditions, on the customer's line (the far end; the agent's headset line
stays clean): clean; a gain step of +12 / -12 / +6 dB halfway through;
AGC; hum and hiss at -55 and -45 dBFS, and at -45 switching on halfway;
G.711 mu-law and A-law with 300-3400 Hz band limiting, and the mobile codecs
GSM 06.10 and AMR-NB at 12.2 and 4.75 kbit/s (line_conditions.py's).
"""

import collections
import json
import os
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import line_conditions as lc  # noqa: E402
import real_drift  # noqa: E402

RATE = lc.RATE
HOP = 80  # 10 ms
WIN = 240  # 30 ms
TURN_MIN_S = 4.0
TURN_PAUSE_S = 0.25
AGENT_DBFS = -24.0
CUSTOMER_DBFS = -30.0
SPEECH_WITHIN_DB = 25.0
ABOVE_NOISE_DB = 9.0
BRIDGE = 20  # frames: 0.2 s
OVERLAP_BRIDGE = 30  # frames: 0.3 s, the rule's
TURN_GAP = 50  # frames: 0.5 s, alerts.turns.gap_s
TRUE_OVERLAP_S = 0.7
NOT_OVERLAP_S = 0.3
AMBIGUOUS = 0.5
KINDS = ("exchange", "backchannel", "interrupt", "latch", "cut_in")
CONDITIONS = ["clean", "gain+12", "gain-12", "gain+6", "agc", "hum-55", "hum-45", "hiss-55", "hiss-45",
              "hum-45on", "hiss-45on", "ulaw", "alaw", "gsm", "amr", "amr-4.75"]


def frame_db(x):
    n = len(x) // HOP
    out = np.full(n, -120.0)
    for k in range(n):
        a = max(0, k * HOP - WIN // 2)
        seg = x[a:a + WIN]
        out[k] = 10 * np.log10(np.mean(seg ** 2) / lc.FULL_SCALE_SINE_MS + 1e-12)
    return out


def speech_of(x, rumble=False):
    """Frame truth of one utterance placed alone, on its level above rumble
    (`rumble`: on its full level, as the utterances were trimmed and levelled
    to compose the calls before the truth left rumble out; kept so that the
    calls stay the same)."""
    db = frame_db(x if rumble else lc.above_rumble(x))
    sp = db >= max(np.quantile(db, 0.95) - SPEECH_WITHIN_DB, np.quantile(db, 0.10) + ABOVE_NOISE_DB)
    idx = np.flatnonzero(sp)
    for i, j in zip(idx[:-1], idx[1:]):
        if 1 < j - i <= BRIDGE:
            sp[i:j] = True
    return sp


def active_rms(x):
    db = frame_db(x)
    sp = speech_of(x, rumble=True)
    return 10 ** (np.mean(db[sp]) / 20) if sp.any() else 1.0


def word(x):
    """One short word of `x`: a stretch of speech of 0.15-0.6 s with at least
    60 ms of pause either side, 30 ms of margin kept; None when there is none."""
    db = frame_db(x)
    sp = db >= np.quantile(db, 0.95) - 20.0
    runs, k = [], 0
    while k < len(sp):
        if sp[k]:
            j = k
            while j < len(sp) and (sp[j] or (j + 3 < len(sp) and sp[j:j + 4].any())):
                j += 1
            runs.append((k, j))
            k = j
        else:
            k += 1
    for (a, b), prev, nxt in zip(runs, [None] + runs[:-1], runs[1:] + [None]):
        if 15 <= b - a <= 60 and (prev is None or a - prev[1] >= 6) and (nxt is None or nxt[0] - b >= 6):
            lo, hi = max(0, (a - 3) * HOP), min(len(x), (b + 3) * HOP)
            return x[lo:hi]
    return None


def trimmed(x):
    """The utterance without its leading and trailing silence (50 ms kept),
    so that turns are placed where their speech is."""
    idx = np.flatnonzero(speech_of(x, rumble=True))
    if not len(idx):
        return x
    return x[max(0, (idx[0] - 5) * HOP):min(len(x), (idx[-1] + 6) * HOP)]


class Speaker:
    """A speaker's utterances at 8 kHz, handed out turn by turn."""

    def __init__(self, cache, name, utts, dbfs):
        self.utts = []
        for i, u in enumerate(utts):
            plain = os.path.join(cache, f"{name.replace(':', '_')}_{i}.wav")
            if not os.path.exists(plain):
                real_drift.sox(u, "-r", RATE, "-c", 1, "-b", 16, plain)
            x = trimmed(lc.read(plain))
            self.utts.append(x * 10 ** (dbfs / 20) / active_rms(x))
        self.next = 0
        self.words = [w for w in (word(x) for x in self.utts) if w is not None]

    def left(self):
        return len(self.utts) - self.next

    def turn(self):
        """The next turn: [(offset in samples, audio)]."""
        parts, t = [], 0
        while self.next < len(self.utts) and t < TURN_MIN_S * RATE:
            x = self.utts[self.next]
            self.next += 1
            parts.append((t, x))
            t += len(x) + int(TURN_PAUSE_S * RATE)
        return parts

    @staticmethod
    def length(parts):
        return parts[-1][0] + len(parts[-1][1])


class Call:
    """Two channels being composed, with their frame truth and the events."""

    def __init__(self):
        self.x = {"agent": np.zeros(0), "customer": np.zeros(0)}
        self.truth = {"agent": np.zeros(0, bool), "customer": np.zeros(0, bool)}
        # {kind, placed: the agent's audio placed (s), cs/ce: the customer's
        # turn placed (s), ae: the agent's turn's end (s)}
        self.events = []

    def place(self, who, at, parts):
        for off, x in parts:
            a = at + off
            b = a + len(x)
            if b > len(self.x[who]):
                self.x[who] = np.concatenate([self.x[who], np.zeros(b - len(self.x[who]) + RATE)])
            self.x[who][a:b] += x
            fa, sp = a // HOP, speech_of(x)
            need = fa + len(sp)
            if need > len(self.truth[who]):
                self.truth[who] = np.concatenate([self.truth[who], np.zeros(need - len(self.truth[who]) + 100, bool)])
            self.truth[who][fa:fa + len(sp)] |= sp
        return at + Speaker.length(parts)

    def finish(self):
        n = max(len(v) for v in self.x.values())
        for who in self.x:
            self.x[who] = np.concatenate([self.x[who], np.zeros(n - len(self.x[who]))])
            self.truth[who] = np.concatenate([self.truth[who], np.zeros(n // HOP - len(self.truth[who]) + 1, bool)])[
                :n // HOP]


def compose(agent, customer, rng):
    call = Call()
    t = RATE // 2
    k = 0
    while agent.left() and customer.left():
        kind = KINDS[k % len(KINDS)]
        k += 1
        if kind == "cut_in":
            a_parts = agent.turn()
            a_end = call.place("agent", t, a_parts)
            overlap = int(rng.uniform(1.5, 3.0) * RATE)
            c_start = max(t + RATE // 2, a_end - overlap)
            c_end = call.place("customer", c_start, customer.turn())
            call.events.append(dict(kind=kind, placed=t / RATE, cs=c_start / RATE, ce=c_end / RATE, ae=a_end / RATE))
            t = max(a_end, c_end) + int(rng.uniform(0.4, 1.0) * RATE)
            continue
        c_parts = customer.turn()
        c_len = Speaker.length(c_parts)
        c_end = call.place("customer", t, c_parts)
        if kind == "backchannel" and agent.words and c_len > 3 * RATE:
            w = agent.words[rng.integers(len(agent.words))]
            at = t + int(rng.uniform(1.0, c_len / RATE - 1.5) * RATE)
            w_end = call.place("agent", at, [(0, w)])
            call.events.append(dict(kind=kind, placed=at / RATE, cs=t / RATE, ce=c_end / RATE, ae=w_end / RATE))
        if kind == "interrupt":
            a_start = max(t + RATE, c_end - int(rng.uniform(1.5, 3.0) * RATE))
        elif kind == "latch":
            a_start = c_end - int(0.2 * RATE)
        else:
            a_start = c_end + int(rng.uniform(0.4, 1.0) * RATE)
        a_end = call.place("agent", a_start, agent.turn())
        if kind in ("interrupt", "latch"):
            call.events.append(dict(kind=kind, placed=a_start / RATE, cs=t / RATE, ce=c_end / RATE, ae=a_end / RATE))
        t = a_end + int(rng.uniform(0.4, 1.0) * RATE)
    call.finish()
    return call


def turns(speech):
    """A party's turns: their speech with pauses under the turn gap bridged."""
    out = speech.copy()
    idx = np.flatnonzero(speech)
    for i, j in zip(idx[:-1], idx[1:]):
        if 1 < j - i <= TURN_GAP:
            out[i:j] = True
    return out


def customer_holds(call, t_s):
    """The customer's turn holds at `t_s`: they spoke in the last 0.5 s."""
    c = call.truth["customer"]
    k = int(round(t_s * 100))
    return k < len(c) and c[max(0, k - TURN_GAP):k + 1].any()


def overlap_s(call, start_s):
    """Seconds both speak from the agent's start at `start_s` while the
    customer's turn that held at that start goes on (0 when none held): the
    longest run, counting frames where both speak, bridging breaks of up to
    0.3 s, as the rule does."""
    a, c = call.truth["agent"], call.truth["customer"]
    held = turns(c)
    k = int(round(start_s * 100))
    if not customer_holds(call, start_s):
        return 0.0
    best = run = gap = 0
    while k < len(a) and held[k]:
        if a[k] and c[k]:
            run += 1
            gap = 0
        elif run and gap < OVERLAP_BRIDGE:
            gap += 1
        else:
            run = gap = 0
        best = max(best, run)
        k += 1
    return best / 100


def write_call(cache, name, call, cond):
    paths = {}
    for who in ("agent", "customer"):
        p = os.path.join(cache, f"{name}_{who}.wav")
        if not os.path.exists(p):
            lc.write(p, call.x[who])
        paths[who] = p if who == "agent" else lc.render(cache, p, cond)
    out = os.path.join(cache, f"{name}__{cond}.wav")
    if not os.path.exists(out):
        real_drift.sox("-M", paths["agent"], paths["customer"], out)
    return out, paths


def tonewatch(binary, path, config):
    cmd = [binary, "replay", path, "--frames"] + (["--config", config] if config else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    frames = {"agent": [], "customer": []}
    raised, summary = [], None
    for line in r.stdout.splitlines():
        if line.startswith('{"type":"frame"'):
            frames["agent" if '"speaker":"agent"' in line else "customer"].append('"speech":true' in line)
        else:
            rec = json.loads(line)
            if rec["type"] == "alert" and rec["state"] == "raised":
                raised.append(rec)
            elif rec["type"] == "summary":
                summary = rec
    return {k: np.array(v) for k, v in frames.items()}, raised, summary


def speech_start(call, placed_s, who="agent"):
    """The party's first speech frame at or after where their audio was
    placed (read utterances begin with a little silence)."""
    a = call.truth[who]
    k = int(round(placed_s * 100))
    while k < len(a) and not a[k]:
        k += 1
    return k / 100


def judged(call):
    """Each event as (kind, start, window end, overlap s): start is the
    agent's first speech (the customer's, for a cut-in), the window where an
    overtalk alert would belong to it ends 1 s after the overlap can last."""
    out = []
    for e in call.events:
        if e["kind"] == "cut_in":
            # The customer cut in on the agent: not the agent's overtalk, as
            # long as the agent's turn held when the customer started (when
            # it did not, the agent picking up again over the customer may
            # be: left out).
            start = speech_start(call, e["cs"], "customer")
            held = turns(call.truth["agent"])[int(round(start * 100))]
            out.append((e["kind"], start, min(e["ae"], e["ce"]) + 1.0, 0.0 if held else AMBIGUOUS))
        else:
            start = speech_start(call, e["placed"])
            out.append((e["kind"], start, min(e["ae"], e["ce"]) + 1.0, overlap_s(call, start)))
    return out


def score_overtalk(call, raised):
    """Latencies of the true overtalks (None: missed), overtalk alerts that
    match one, alerts counted (those in an ambiguous event's window only are
    not), and the events that must not raise one but did, by kind."""
    events = judged(call)
    pos = [(s, e) for _, s, e, ov in events if ov >= TRUE_OVERLAP_S]
    neg = [(k, s, e) for k, s, e, ov in events if ov < NOT_OVERLAP_S]
    ambiguous = [(s, e) for _, s, e, ov in events if NOT_OVERLAP_S <= ov < TRUE_OVERLAP_S]
    ot = [a["t"] for a in raised if a["kind"] == "overtalk"]
    hits = []
    for s, e in pos:
        got = [t for t in ot if s <= t <= e]
        hits.append(got[0] - s if got else None)
    matched = sum(any(s <= t <= e for s, e in pos) for t in ot)
    counted = sum(any(s <= t <= e for s, e in pos) or not any(s <= t <= e for s, e in ambiguous) for t in ot)
    false_by = collections.Counter(k for k, s, e in neg if any(s <= t <= e for t in ot))
    return hits, matched, counted, false_by


def main():
    ap = real_drift.arguments(__doc__)
    ap.add_argument("--mode", type=int, default=2, help="WebRTC VAD aggressiveness, 0-3 (default 2)")
    a = ap.parse_args()
    cache = real_drift.cache_dir(a, "tonewatch-overtalk-")
    try:
        import vad
        import webrtcvad  # noqa: F401
        webrtc = True
    except ImportError:
        webrtc = False
    names = list(real_drift.speakers(a.data, a.split).items())
    calls = []
    for i, (aname, autts) in enumerate(names):
        cname, cutts = names[(i + 1) % len(names)]
        rng = np.random.default_rng(i)
        call = compose(Speaker(cache, aname, autts, AGENT_DBFS), Speaker(cache, cname, cutts, CUSTOMER_DBFS), rng)
        calls.append((f"call{i:02d}", call))
    minutes = sum(len(c.x["agent"]) for _, c in calls) / RATE / 60
    placed = collections.Counter(e["kind"] for _, c in calls for e in c.events)
    truth_pos = sum(ov >= TRUE_OVERLAP_S for _, c in calls for _, _, _, ov in judged(c))
    # A word placed in a pause of 0.5 s or more of the customer's is a turn
    # of its own, not a backchannel.
    truth_bc = sum(k == "backchannel" and customer_holds(c, s) for _, c in calls for k, s, _, _ in judged(c))
    print(f"split {a.split}: {len(calls)} calls, {minutes:.1f} min; placed {dict(placed)}; "
          f"{truth_pos} true overtalks, {truth_bc} backchannels inside the customer's turn")
    head = (f"{'condition':9s} {'recall':>6s} {'prec':>5s} {'lat med/max s':>13s} {'false (by event)':18s} "
            f"{'backch':>7s} {'VAD rec/FA agent':>16s} {'customer':>13s}")
    if webrtc:
        head += f" {'webrtc cust':>13s}"
    print(head + "  other alerts")
    for cond in CONDITIONS:
        hits, matched, counted, false_by, others = [], 0, 0, collections.Counter(), collections.Counter()
        bc, vadr = 0, {w: [0, 0, 0, 0] for w in ("agent", "customer", "webrtc")}
        for name, call in calls:
            path, paths = write_call(cache, name, call, cond)
            frames, raised, summary = tonewatch(a.bin, path, a.config)
            h, m, n, fb = score_overtalk(call, raised)
            hits += h
            matched += m
            counted += n
            false_by += fb
            bc += summary["backchannels"]
            others.update(r["kind"] for r in raised if r["kind"] not in ("overtalk", "dead_air"))
            for who in ("agent", "customer"):
                p, t = frames[who], call.truth[who]
                n_ = min(len(p), len(t))
                p, t = p[:n_], t[:n_]
                vadr[who][0] += (p & t).sum()
                vadr[who][1] += t.sum()
                vadr[who][2] += (p & ~t).sum()
                vadr[who][3] += (~t).sum()
            if webrtc:
                p, t = vad.webrtc_vad(paths["customer"], a.mode), call.truth["customer"]
                n_ = min(len(p), len(t))
                p, t = p[:n_], t[:n_]
                vadr["webrtc"][0] += (p & t).sum()
                vadr["webrtc"][1] += t.sum()
                vadr["webrtc"][2] += (p & ~t).sum()
                vadr["webrtc"][3] += (~t).sum()
        got = [h for h in hits if h is not None]
        recall = len(got) / len(hits) if hits else float("nan")
        prec = matched / counted if counted else float("nan")
        lat = f"{statistics.median(got):.2f}/{max(got):.2f}" if got else "-"
        fb = ",".join(f"{k} {v}" for k, v in sorted(false_by.items())) or "0"

        def vr(w):
            r = vadr[w]
            return f"{100 * r[0] / max(r[1], 1):.1f}/{100 * r[2] / max(r[3], 1):.1f}"

        line = (f"{cond:9s} {recall:6.2f} {prec:5.2f} {lat:>13s} {fb:18s} {bc:3d}/{truth_bc:<3d} "
                f"{vr('agent'):>16s} {vr('customer'):>13s}")
        if webrtc:
            line += f" {vr('webrtc'):>13s}"
        print(line + "  " + (", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "none"))


if __name__ == "__main__":
    main()
