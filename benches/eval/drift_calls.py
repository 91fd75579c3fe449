#!/usr/bin/env python3
"""Agent drifts inside two-party calls made from real turns: what the agent's
rules do when the agent talks half the time, not alone.

    benches/eval/drift_calls.py DATA [--split tune|report|all] [--bin PATH]
                                [--config TOML] [--cache DIR] [--line COND]

DATA is the shared data folder (../shared/data); nothing of it is copied
into the project. `real_drift.py` reads each speaker as a monologue (0.6 s
pauses between utterances): the agent's 10-s window then holds 8-9 s of
their voice. On a call the other party holds half the turns, and a rule
tuned on monologues may see half the speech it was tuned on.

Calls: each calm speaker of real_drift.py's `--split` half is the agent
(their utterances read twice over, as real_drift.py does) and the next
speaker of the half the customer (their utterances cycled), at 8 kHz,
each utterance at its recorded level. Turns alternate: the customer says
1-3 utterances, the agent answers 0.4-1.0 s after them with 1-3 of theirs
(0.6 s pauses inside a turn), until the agent's utterances are used up;
the same seed for every variant, so a drifted call has the calm call's turns.

- Calm (negative controls): every agent pace/pitch/volume alert and every
  customer_agitation alert is false; per hour of call.
- Drifts: every agent utterance from the first agent turn at or after 40 %
  of the calm call (and at least 60 s) pitch-shifted by sox `pitch`
  +200/+300 cents or time-stretched by sox `tempo` 1.15/1.25. Recall: the
  matching alert raised after the drift's start; latency in seconds of the
  call and in seconds of the agent's talking (their placed utterances)
  from the drift's start to the alert.
- Early drifts: the same from the first agent turn at or after 20 s, without
  and with the agent's profile (from a replay of the calm call).

`--line COND` sends both parties' channels through one of
line_conditions.py's conditions (`ulaw`: the telephone band). Needs numpy,
sox and a release build.
"""

import collections
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import line_conditions as lc  # noqa: E402
import real_drift  # noqa: E402

RATE = lc.RATE
INSIDE_TURN_S = 0.6
DRIFTS = (("pitch", "200"), ("pitch", "300"), ("tempo", "1.15"), ("tempo", "1.25"))
EARLY = (("pitch", "300"), ("tempo", "1.25"))
AGENT_KINDS = real_drift.AGENT_KINDS


def compose(cache, agent, customer, seed, effect=None, from_s=None):
    """Two channels of alternating turns. `agent`/`customer`: (name,
    utterance paths). Returns (agent samples, customer samples, the agent's
    placed utterances as (start, end) seconds, the drift's start or None)."""
    rng = np.random.default_rng(seed)
    a_name, a_utts = agent
    c_name, c_utts = customer
    x = {"agent": [], "customer": []}
    placed, t, ci, ai, start = [], 0.5, 0, 0, None

    def put(who, at, samples):
        x[who].append((int(at * RATE), samples))

    while ai < len(a_utts):
        for k in range(rng.integers(1, 4)):
            s = lc.read(real_drift.utterance(cache, c_name, ci % len(c_utts), c_utts[ci % len(c_utts)]))
            ci += 1
            put("customer", t, s)
            t += len(s) / RATE + (INSIDE_TURN_S if k < 2 else 0.0)
        t += rng.uniform(0.4, 1.0)
        drifted = effect is not None and t >= from_s
        if drifted and start is None:
            start = t
        n = min(rng.integers(1, 4), len(a_utts) - ai)
        for k in range(n):
            s = lc.read(real_drift.utterance(cache, a_name, ai, a_utts[ai], effect if drifted else None))
            ai += 1
            put("agent", t, s)
            placed.append((t, t + len(s) / RATE))
            t += len(s) / RATE + (INSIDE_TURN_S if k < n - 1 else 0.0)
        t += rng.uniform(0.4, 1.0)
    total = int((t + 0.5) * RATE)
    out = {}
    for who, parts in x.items():
        y = np.zeros(total)
        for at, s in parts:
            y[at:at + len(s)] += s[:total - at]
        out[who] = y
    return out["agent"], out["customer"], placed, start


def talk_s(placed, a, b):
    """Seconds of the agent's placed speech between `a` and `b`."""
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in placed)


def written(cache, tag, a, c, line):
    paths = []
    for who, y in (("agent", a), ("customer", c)):
        p = os.path.join(cache, f"{tag}_{who}.wav")
        lc.write(p, y)
        paths.append(real_drift.on_line(line)(cache, p) if line else p)
    return ["--agent", paths[0], "--customer", paths[1]]


def summary(label, got):
    lat = [h for _, h, _, _ in got if h is not None]
    talk = [h for _, _, h, _ in got if h is not None]
    before = sum(b for *_, b in got)
    med = lambda v: statistics.median(v) if v else float("nan")  # noqa: E731
    mx = lambda v: max(v) if v else float("nan")  # noqa: E731
    print(f"{label}: recall {len(lat) / len(got):.2f} ({len(lat)}/{len(got)}), latency median {med(lat):.1f} s "
          f"(agent's talk {med(talk):.1f} s), max {mx(lat):.1f} s ({mx(talk):.1f} s); alerts before the drift: {before}")
    for name, h, _, _ in got:
        if h is None:
            print(f"  missed: {name}")


def main():
    ap = real_drift.arguments(__doc__)
    ap.add_argument("--line", help="a line_conditions.py condition both channels go through (e.g. ulaw)")
    a = ap.parse_args()
    if a.line:
        real_drift.on_line(a.line)
    cache = real_drift.cache_dir(a, "tonewatch-drift-calls-")
    spk = list(real_drift.speakers(a.data, a.split).items())
    hours, agent_h = 0.0, 0.0
    false, false_at = collections.Counter(), []
    drift = {d: [] for d in DRIFTS}
    early = {(e, amt, prof): [] for e, amt in EARLY for prof in (False, True)}
    for k, (name, utts) in enumerate(spk):
        agent = (name, utts * 2)
        customer = spk[(k + 1) % len(spk)]
        seed = k + 1
        tag = f"{name.replace(':', '_')}_call"
        a_x, c_x, placed, _ = compose(cache, agent, customer, seed)
        d = len(a_x) / RATE
        hours += d / 3600
        agent_h += talk_s(placed, 0, d) / 3600
        calm = written(cache, f"{tag}_calm", a_x, c_x, a.line)
        profile = os.path.join(cache, f"{tag}_profile.toml")
        if os.path.exists(profile):
            os.remove(profile)
        for al in real_drift.replay(a.bin, calm + ["--profile", profile], a.config)[0]:
            if al["kind"] in AGENT_KINDS + ("customer_agitation",):
                false[al["kind"]] += 1
                false_at.append((name, al["kind"], al["t"]))
        runs = [(drift[(e, amt)], (e, amt), max(60.0, 0.4 * d), False) for e, amt in DRIFTS]
        runs += [(early[(e, amt, p)], (e, amt), 20.0, p) for e, amt in EARLY for p in (False, True)]
        for got, effect, from_s, with_profile in runs:
            a_d, c_d, placed_d, start = compose(cache, agent, customer, seed, effect, from_s)
            args = written(cache, f"{tag}_{'_'.join(effect)}_{int(from_s)}", a_d, c_d, a.line)
            if with_profile:
                args = real_drift.reading_profile(profile, args)
            want = "agent_pitch" if effect[0] == "pitch" else "agent_pace"
            raised = real_drift.alerts(a.bin, args, a.config)
            hit = [al["t"] for al in raised if al["kind"] == want and al["t"] >= start]
            before = sum(al["t"] < start and al["kind"] in AGENT_KINDS for al in raised)
            lat = hit[0] - start if hit else None
            got.append((name, lat, talk_s(placed_d, start, hit[0]) if hit else None, before))
    print(f"split {a.split}: {len(spk)} calls, {hours * 60:.1f} min, the agent talking {100 * agent_h / hours:.0f} %"
          + (f", both channels through `{a.line}`" if a.line else ""))
    agent = sum(false[k] for k in AGENT_KINDS)
    print(f"calm calls, false alerts per hour of call: agent {agent / hours:.1f} ("
          + ", ".join(f"{k} {false[k] / hours:.1f}" for k in AGENT_KINDS)
          + f"), customer_agitation {false['customer_agitation'] / hours:.1f}")
    for name, kind, t in false_at:
        print(f"  false: {name}'s call: {kind} at {t:.1f} s")
    for (e, amt), got in drift.items():
        summary(f"drift {e} {amt}", got)
    for (e, amt, p), got in early.items():
        summary(f"early drift {e} {amt} {'with' if p else 'without'} a profile", got)


if __name__ == "__main__":
    main()
