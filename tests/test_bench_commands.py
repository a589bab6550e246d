"""``localvox bench commands``: scoring, SNR mixing, and real clips through the whole loop.

The real clips are read from ``../shared/speech/intent/coffee`` through symlinks in a
temporary folder (never copied), beside a clip of digital silence that must come out as
"no command" rather than a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from localvox.bench.commands import Clip, parse_snrs, score
from localvox.bench.noise import mix_at_snr, shared_speech, speech_span
from localvox.examples.barista import BaristaAgent
from tests.conftest import needs_models, require_speech

REPO = Path(__file__).resolve().parent.parent
COFFEE = shared_speech() / "intent" / "coffee"
PARAMS = BaristaAgent(llm=None).tools.get_schemas()[0]["function"]["parameters"]["properties"]


def test_acceptance_needs_the_intent_and_every_slot_exact() -> None:
    clip = Clip("x", Path("x.wav"), "orderDrink",
                {"coffeeDrink": "latte", "numberOfShots": "double shot"})
    assert score(clip, "order_drink", {"coffee_drink": "latte", "shots": "double shot"},
                 PARAMS) == (True, 2, [])
    ok, right, errors = score(clip, "order_drink",
                              {"coffee_drink": "latte", "shots": "double shot",
                               "size": "large"}, PARAMS)
    assert not ok and right == 2 and errors == ["extra size='large'"]
    ok, right, _ = score(clip, "order_drink", {"coffee_drink": "mocha"}, PARAMS)
    assert not ok and right == 0
    assert score(clip, None, {}, PARAMS) == (False, 0, ["no command"])


def test_snr_list() -> None:
    assert parse_snrs("clean,24,6dB") == [None, 24.0, 6.0]


def test_noise_is_mixed_at_the_snr_of_the_speech_span() -> None:
    rng = np.random.default_rng(1)
    speech = np.concatenate([np.zeros(16000), 0.3 * np.sin(np.arange(32000) / 5.0),
                             np.zeros(32000)]).astype(np.float32)
    noise = rng.standard_normal(48000).astype(np.float32)
    start, end = speech_span(speech)
    assert abs(start - 16000) <= 320 and abs(end - 48000) <= 320
    mixed = mix_at_snr(speech, noise, 6.0, offset=123)
    bed = mixed - speech
    snr = 10 * np.log10(np.mean(speech[start:end] ** 2) / np.mean(bed[start:end] ** 2))
    assert abs(snr - 6.0) < 0.01
    assert np.any(bed[:16000])  # the noise is in the silence too
    assert np.array_equal(mix_at_snr(speech, noise, None), speech)


@needs_models("whisper_tiny_en", "silero_vad")
def test_real_orders_and_a_silent_clip_through_the_whole_loop(tmp_path: Path) -> None:
    clips = sorted(require_speech(COFFEE).glob("*.wav"))[:2]
    assert len(clips) == 2, f"fewer than 2 orders in {COFFEE}"
    d = tmp_path / "set"
    d.mkdir()
    for wav in clips:
        (d / wav.name).symlink_to(wav)
        (d / wav.with_suffix(".json").name).symlink_to(wav.with_suffix(".json"))
    from localvox.audio.wav import write_wav

    write_wav(d / "zzz_silence.wav", np.zeros(3 * 16000, np.float32), 16000)
    (d / "zzz_silence.json").write_text(json.dumps({"intent": "orderDrink", "slots": {}}))
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "localvox", "bench", "commands", str(d),
                           "--snr", "clean", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    by_clip = {r["clip"]: r for r in data["results"]}
    assert by_clip["zzz_silence"]["tool"] is None
    assert by_clip["zzz_silence"]["errors"] == ["no command"]
    for wav in clips:
        r = by_clip[wav.stem]
        assert r["accepted"], r
        assert r["tool_ms"] is not None and r["endpoint_ms"] is not None
    assert "Picovoice Rhino (published)" in proc.stdout and "97.6%" in proc.stdout
