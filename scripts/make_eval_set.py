#!/usr/bin/env python3
"""Make the English evaluation sets for ``localvox bench asr`` and ``localvox bench wake``.

Why generated: no recorded English speech with transcripts is available from the package
registries this project may use, and every figure must be reproducible by anyone. So the
set is varied on purpose, so it does not flatter one voice:

* voices: the packaged Piper voice at three speeds (length_scale 0.8 / 1.0 / 1.25) and
  espeak-ng's formant voices (en-us, en-gb and the +f3 / +m3 / +f2 variants) at 140-200
  words per minute -- espeak is robotic and much harder for Whisper than Piper;
* noise: three in four clips get pink noise, mains hum with hiss, or "babble" (other
  sentences reversed and overlapped, which sounds like a distant conversation) mixed in
  at a random 10-20 dB SNR; the rest stay clean;
* the wake set: positives are the wake phrase (from ``[wake] model``), sometimes followed
  by a question, placed after 0.8-1.6 s of background, with the exact sample where the
  phrase ends recorded in ``wake/manifest.json`` (so the bench can measure detection
  delay); negatives are long stretches of ordinary speech, including near-miss phrases
  ("hey Travis", "a service"), for false accepts per hour.

Layout written under OUT (default: ``$XDG_CACHE_HOME/localvox/eval``; not in git):

    asr/NNN_<voice>.wav + .txt, asr/manifest.json   (voice, speed, noise kind, SNR)
    wake/positive/*.wav, wake/negative/*.wav, wake/manifest.json

    .venv/bin/python scripts/make_eval_set.py                 # default sizes, user cache
    .venv/bin/python scripts/make_eval_set.py OUT --asr 60 --positives 30 --negative-min 15
    .venv/bin/python scripts/make_eval_set.py tests/fixtures/eval --tiny   # the test subset

Needs the piper_joe_medium model pack and espeak-ng (apt-get install espeak-ng).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localvox.audio.base import SAMPLE_RATE, resample  # noqa: E402
from localvox.audio.wav import read_wav, write_wav  # noqa: E402

SENTENCES = [
    "What time is it right now?",
    "Set a timer for twelve minutes.",
    "What is the weather going to be like in Chicago tomorrow?",
    "Remind me to call my sister after dinner.",
    "How many ounces are there in a pound?",
    "Please turn the music down a little.",
    "The train to Boston leaves at half past seven.",
    "I would like to book a table for four people on Friday.",
    "Could you read me the last note I saved?",
    "My favourite colour has always been dark green.",
    "Add eggs, butter and two bags of flour to the shopping list.",
    "The meeting was moved to Thursday afternoon.",
    "What is seventeen times twenty three?",
    "She sells sea shells by the sea shore.",
    "We should leave early to avoid the traffic on the bridge.",
    "How far is the moon from the earth?",
    "Convert thirty degrees Celsius to Fahrenheit.",
    "Tell me something interesting about octopuses.",
    "The library closes at nine on weekdays.",
    "Can you spell the word necessary for me?",
    "Our flight was delayed by almost three hours.",
    "Wake me up at six thirty tomorrow morning.",
    "Which planet is the largest in the solar system?",
    "I left my keys on the kitchen table again.",
    "The children played football in the park until it got dark.",
    "Please cancel all of my alarms.",
    "How do you make a good cup of tea?",
    "The price of coffee went up again this year.",
    "Send a message to Anna saying I will be late.",
    "It has been raining all week in the north of the country.",
    "What is the square root of one hundred and forty four?",
    "My doctor told me to walk at least thirty minutes a day.",
    "Who wrote the novel Pride and Prejudice?",
    "The new bakery on the corner sells excellent bread.",
    "Is it going to snow this weekend?",
    "Turn off the lights in the living room.",
    "He forgot his umbrella and got completely soaked.",
    "How long does it take to boil an egg?",
    "Let us meet at the station in twenty minutes.",
    "The quick brown fox jumps over the lazy dog.",
    "Do I need a jacket today?",
    "Play something relaxing for the evening.",
    "The museum is free on the first Sunday of every month.",
    "What's the difference between a crocodile and an alligator?",
    "I think the battery on my phone is almost empty.",
    "Write down that the plumber is coming on Monday.",
    "How many kilometres are there in a mile?",
    "Thank you, that was very helpful.",
]
NEGATIVE_FILLER = [
    "Hey Travis, did you bring the charts?", "That service was really slow today.",
    "Harvey said the jars are in the cupboard.", "Hey there, how are you doing?",
    "Okay, let me check the calendar.", "Jam and jelly are not the same thing.",
    "I heard a car alarm go off last night.", "Hey, honey, dinner is ready.",
]
WAKE_PHRASES = {"hey_jarvis": "Hey Jarvis", "alexa": "Alexa", "hey_mycroft": "Hey Mycroft",
                "ok_nabu": "Okay Nabu"}
FOLLOW_UPS = ["What time is it?", "Set a timer for five minutes.", "What's the weather like?",
              "Turn on the lights."]

# (engine, voice, speed): piper speed is length_scale; espeak speed is words per minute.
VOICES = [
    ("piper", "joe", 1.0), ("espeak", "en-us", 170), ("piper", "joe", 0.8),
    ("espeak", "en-gb", 150), ("piper", "joe", 1.25), ("espeak", "en-us+f3", 190),
    ("espeak", "en-gb+m3", 160), ("espeak", "en-us+m3", 140), ("espeak", "en+f2", 200),
]
NOISES = ("clean", "pink", "babble", "hum")


class Voices:
    """Text -> 16 kHz float32 speech, trimmed of leading/trailing silence."""

    def __init__(self) -> None:
        from piper import PiperVoice

        from localvox.modelpacks import resolve_model

        model = resolve_model("piper_joe_medium")
        self.piper_voice = PiperVoice.load(model, config_path=f"{model}.json")
        self.piper_rate = int(self.piper_voice.config.sample_rate)
        if shutil.which("espeak-ng") is None:
            raise SystemExit("espeak-ng is not installed: apt-get install espeak-ng")

    def say(self, engine: str, voice: str, speed: float, text: str) -> np.ndarray:
        if engine == "piper":
            from piper import SynthesisConfig

            cfg = SynthesisConfig(length_scale=speed)
            audio = np.concatenate([c.audio_float_array for c in
                                    self.piper_voice.synthesize(text, syn_config=cfg)])
            audio = resample(audio.astype(np.float32), self.piper_rate, SAMPLE_RATE)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "s.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(speed)), "-w", str(out),
                                text], check=True, capture_output=True)
                audio = read_wav(out)
            audio = audio * (0.5 / max(1e-6, float(np.max(np.abs(audio)))))  # espeak is quiet
        return trim(audio.astype(np.float32))


def trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    block = SAMPLE_RATE // 100
    n = len(x) // block
    if n == 0:
        return x
    peaks = np.abs(x[: n * block]).reshape(n, block).max(axis=1)
    loud = np.nonzero(peaks > threshold)[0]
    if len(loud) == 0:
        return x
    return x[loud[0] * block:(loud[-1] + 1) * block]


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by shaping white noise in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def hum_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    base = rng.choice([50.0, 60.0])
    x = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 5))
    x = x + 0.5 * rng.standard_normal(n)
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def babble_noise(n: int, rng: np.random.Generator, pool: list[np.ndarray]) -> np.ndarray:
    """Several reversed utterances overlapped at random offsets: speech-like, unintelligible."""
    out = np.zeros(n, np.float32)
    for _ in range(4):
        clip = pool[int(rng.integers(len(pool)))][::-1]
        reps = int(np.ceil(n / max(1, len(clip)))) + 1
        long = np.tile(clip, reps)
        off = int(rng.integers(0, max(1, len(clip))))
        out += long[off:off + n]
    return (out / (np.std(out) + 1e-9)).astype(np.float32)


def make_noise(kind: str, n: int, rng: np.random.Generator, pool: list[np.ndarray]) -> np.ndarray:
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "hum":
        return hum_noise(n, rng)
    if kind == "babble":
        return babble_noise(n, rng, pool)
    return np.zeros(n, np.float32)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, speech_rms: float | None = None
        ) -> np.ndarray:
    """Add ``noise`` scaled so speech power / noise power = ``snr_db`` (speech RMS measured
    over voiced samples, so leading silence does not lower it)."""
    if speech_rms is None:
        voiced = speech[np.abs(speech) > 0.01]
        speech_rms = float(np.sqrt(np.mean(np.square(voiced)))) if voiced.size else 0.0
    noise_rms = float(np.sqrt(np.mean(np.square(noise)))) or 1.0
    gain = speech_rms / (noise_rms * 10 ** (snr_db / 20.0))
    out = speech + noise * gain
    peak = float(np.max(np.abs(out)))
    return (out / peak * 0.9 if peak > 0.99 else out).astype(np.float32)


def background(n: int, rng: np.random.Generator) -> np.ndarray:
    """Faint room hiss so 'silence' is never digital zeros."""
    return (rng.standard_normal(n) * 0.0008).astype(np.float32)


def pick_noise(i: int, rng: np.random.Generator) -> tuple[str, float | None]:
    kind = NOISES[i % len(NOISES)]
    return (kind, None) if kind == "clean" else (kind, round(float(rng.uniform(10, 20)), 1))


def make_asr(out: Path, voices: Voices, count: int, rng: np.random.Generator,
             pool: list[np.ndarray]) -> None:
    d = out / "asr"
    d.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(count):
        text = SENTENCES[i % len(SENTENCES)]
        engine, voice, speed = VOICES[i % len(VOICES)]
        speech = voices.say(engine, voice, speed, text)
        lead, tail = int(0.3 * SAMPLE_RATE), int(0.4 * SAMPLE_RATE)
        audio = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(tail, np.float32)])
        audio += background(len(audio), rng)
        kind, snr = pick_noise(i // len(VOICES) + i, rng)
        if snr is not None:
            audio = mix(audio, make_noise(kind, len(audio), rng, pool), snr)
        name = f"{i:03d}_{engine}_{voice.replace('+', '-')}_{speed:g}"
        write_wav(d / f"{name}.wav", audio)
        (d / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
        manifest.append({"file": f"{name}.wav", "text": text, "engine": engine, "voice": voice,
                         "speed": speed, "noise": kind, "snr_db": snr,
                         "seconds": round(len(audio) / SAMPLE_RATE, 3)})
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"asr: {count} clips in {d}")


def make_wake(out: Path, voices: Voices, phrase: str, positives: int, negative_s: float,
              negative_clip_s: float, rng: np.random.Generator, pool: list[np.ndarray]) -> None:
    pos_dir, neg_dir = out / "wake" / "positive", out / "wake" / "negative"
    pos_dir.mkdir(parents=True, exist_ok=True)
    neg_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"phrase": phrase, "positive": [], "negative": []}
    for i in range(positives):
        engine, voice, speed = VOICES[i % len(VOICES)]
        wake = voices.say(engine, voice, speed, phrase + ".")
        lead = np.zeros(int(rng.uniform(0.8, 1.6) * SAMPLE_RATE), np.float32)
        gap = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
        parts = [lead, wake, gap]
        if i % 2:
            parts.append(voices.say(engine, voice, speed, FOLLOW_UPS[i % len(FOLLOW_UPS)]))
        parts.append(np.zeros(int(1.5 * SAMPLE_RATE), np.float32))
        audio = np.concatenate(parts)
        audio += background(len(audio), rng)
        kind, snr = pick_noise(i, rng)
        if snr is not None:
            rms = float(np.sqrt(np.mean(np.square(wake[np.abs(wake) > 0.01]))))
            audio = mix(audio, make_noise(kind, len(audio), rng, pool), snr, rms)
        name = f"pos_{i:03d}_{engine}_{voice.replace('+', '-')}_{speed:g}.wav"
        write_wav(pos_dir / name, audio)
        manifest["positive"].append({
            "file": name, "phrase_start_s": len(lead) / SAMPLE_RATE,
            "phrase_end_s": (len(lead) + len(wake)) / SAMPLE_RATE, "engine": engine,
            "voice": voice, "speed": speed, "noise": kind, "snr_db": snr})
    texts = SENTENCES + NEGATIVE_FILLER
    n_clips = max(1, int(round(negative_s / negative_clip_s)))
    k = 0
    for c in range(n_clips):
        target = int(negative_clip_s * SAMPLE_RATE)
        parts, total = [], 0
        while total < target:
            engine, voice, speed = VOICES[k % len(VOICES)]
            s = voices.say(engine, voice, speed, texts[(k * 7 + c) % len(texts)])
            gap = np.zeros(int(rng.uniform(0.2, 1.2) * SAMPLE_RATE), np.float32)
            parts += [s, gap]
            total += len(s) + len(gap)
            k += 1
        audio = np.concatenate(parts)[:target]
        audio += background(len(audio), rng)
        kind, snr = pick_noise(c, rng)
        if snr is not None:
            audio = mix(audio, make_noise(kind, len(audio), rng, pool), snr)
        name = f"neg_{c:03d}.wav"
        write_wav(neg_dir / name, audio)
        manifest["negative"].append({"file": name, "seconds": len(audio) / SAMPLE_RATE,
                                     "noise": kind, "snr_db": snr})
    (out / "wake" / "manifest.json").write_text(json.dumps(manifest, indent=1),
                                                encoding="utf-8")
    print(f"wake: {positives} positives, {n_clips} negatives "
          f"({n_clips * negative_clip_s / 60:.1f} min) in {out / 'wake'}")


def default_dir() -> Path:
    from localvox.config import xdg_dir

    return xdg_dir("cache") / "eval"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=None, help="output folder (default: user cache)")
    ap.add_argument("--asr", type=int, default=48, help="ASR clips (default 48)")
    ap.add_argument("--positives", type=int, default=27, help="wake positives (default 27)")
    ap.add_argument("--negative-min", type=float, default=10.0,
                    help="minutes of wake negatives (default 10)")
    ap.add_argument("--negative-clip-s", type=float, default=30.0)
    ap.add_argument("--wake-model", default=None, help="wake model id (default: [wake] model)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tiny", action="store_true",
                    help="the small test subset: 3 ASR clips, 2 positives, 8 s of negatives")
    args = ap.parse_args(argv)
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    model = args.wake_model or config.wake.model
    phrase = WAKE_PHRASES.get(model, model.replace("_", " ").title())
    out = Path(args.out) if args.out else default_dir()
    rng = np.random.default_rng(args.seed)
    voices = Voices()
    pool = [voices.say("espeak", v, 170, t) for v, t in
            zip(("en-us", "en-gb+m3", "en-us+f3", "en-gb"), SENTENCES[-8:-4])]
    if args.tiny:
        make_asr(out, voices, 3, rng, pool)
        make_wake(out, voices, phrase, 2, 8.0, 8.0, rng, pool)
    else:
        make_asr(out, voices, args.asr, rng, pool)
        make_wake(out, voices, phrase, args.positives, args.negative_min * 60,
                  args.negative_clip_s, rng, pool)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
