#!/usr/bin/env python3
"""Writes the fuzz targets' starting corpus (small, ours, deterministic):
WAV files of each kind the reader takes, a tenth of a second of a tone, and
configuration files from the default one and a few sections of it.

    python3 crates/tonewatch-fuzz/make_corpus.py

corpus/wav/found_*.wav are kept from fuzzing runs (inputs that crashed a
build once, grown by libFuzzer from these files), not written here.
"""
import math
import pathlib
import struct

here = pathlib.Path(__file__).resolve().parent
wav_dir = here / "corpus" / "wav"
cfg_dir = here / "corpus" / "config"
wav_dir.mkdir(parents=True, exist_ok=True)
cfg_dir.mkdir(parents=True, exist_ok=True)


def wav(name, tag, bits, rate, channels, seconds=0.1, extensible=False):
    n = int(rate * seconds)
    frames = []
    for i in range(n):
        x = 0.3 * math.sin(2 * math.pi * 220 * i / rate)
        for _ in range(channels):
            if tag == 3 and bits == 32:
                frames.append(struct.pack("<f", x))
            elif tag in (6, 7):
                frames.append(struct.pack("<b", int(x * 127)))
            elif bits == 8:
                frames.append(struct.pack("<B", int(x * 127 + 128)))
            elif bits == 16:
                frames.append(struct.pack("<h", int(x * 32767)))
            elif bits == 24:
                frames.append(struct.pack("<i", int(x * 8388607))[:3])
            else:
                frames.append(struct.pack("<i", int(x * 2147483647)))
    data = b"".join(frames)
    block = bits // 8 * channels
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, bits, 3 if channels == 2 else 4) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    (wav_dir / name).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


wav("pcm16_8k_stereo.wav", 1, 16, 8000, 2)
wav("pcm8_8k.wav", 1, 8, 8000, 1)
wav("pcm24_16k.wav", 1, 24, 16000, 1, seconds=0.05)
wav("float_16k.wav", 3, 32, 16000, 1, seconds=0.05)
wav("ulaw_8k.wav", 7, 8, 8000, 1)
wav("alaw_8k_stereo.wav", 6, 8, 8000, 2, seconds=0.05)
wav("extensible_pcm16_16k.wav", 1, 16, 16000, 2, seconds=0.03, extensible=True)

default = (here.parent.parent / "src" / "default_config.toml").read_text()
(cfg_dir / "default.toml").write_text(default)
sections = default.split("\n[")
for i, s in enumerate(sections[1:], 1):
    (cfg_dir / f"section_{i:02}.toml").write_text("[" + s)
(cfg_dir / "empty.toml").write_text("")

# serve's sessions: a protocol byte (even AudioHook, odd media streams),
# then messages separated by 0xFF 0x00, `t` before a text one.
proto_dir = here / "corpus" / "protocol"
proto_dir.mkdir(parents=True, exist_ok=True)
SEP = b"\xff\x00"


def hook(kind, seq, params):
    return ("t" + '{"version":"2","id":"30b0e395-84d3-4570-ac13-9a62d8f514c0",'
            f'"type":"{kind}","seq":{seq},"serverseq":{seq - 1},"position":"PT0.04S",'
            f'"parameters":{params}}}').encode()


opened = hook("open", 1, '{"organizationId":"o","conversationId":"c","participant":{},'
              '"media":[{"type":"audio","format":"PCMU","channels":["external","internal"],'
              '"rate":8000}],"customConfig":{"agent":"a"}}')
audio = b"b" + bytes([0x80, 0x10] * 160)
(proto_dir / "audiohook.bin").write_bytes(b"\x00" + SEP.join([
    opened, audio, hook("ping", 2, "{}"), hook("paused", 3, "{}"),
    hook("resumed", 4, '{"start":"PT0.04S","discarded":"PT1S"}'), audio,
    hook("update", 5, '{"language":"en-US"}'), hook("close", 6, '{"reason":"end"}')]))


def media(seq, track, ts):
    return (f't{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"{track}",'
            f'"chunk":"1","timestamp":"{ts}","payload":"' + "gICA" * 40 + '"}}').encode()


(proto_dir / "media_stream.bin").write_bytes(b"\x01" + SEP.join([
    b't{"event":"connected","protocol":"Call","version":"1.0.0"}',
    b't{"event":"start","sequenceNumber":"1","start":{"callSid":"CA1","tracks":["inbound",'
    b'"outbound"],"customParameters":{"agent":"a"},"mediaFormat":{"encoding":"audio/x-mulaw",'
    b'"sampleRate":8000,"channels":1}}}',
    media(2, "outbound", 0), media(3, "inbound", 0), media(4, "inbound", 40),
    media(5, "outbound", 20), b't{"event":"mark","sequenceNumber":"6","mark":{"name":"m"}}',
    b't{"event":"stop","sequenceNumber":"7"}']))
