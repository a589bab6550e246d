"""Piper backend: native-rate chunks, off the event loop, length_scale, cancellation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from localvox.config import load_config
from localvox.tts.base import SpeechChunk
from localvox.tts.piper import PiperSynthesizer, create
from tests.conftest import model_marks

pytestmark = model_marks("piper_joe_medium")


@pytest.fixture(scope="module")
def tts() -> PiperSynthesizer:
    return create(load_config(use_user_file=False))


async def collect(tts: PiperSynthesizer, text: str) -> list[SpeechChunk]:
    return [c async for c in tts.synthesize(text)]


async def test_speech_at_the_voice_native_rate(tts: PiperSynthesizer) -> None:
    assert tts.sample_rate == 22050
    assert tts.name == "piper:en_US-joe-medium"
    chunks = await collect(tts, "Hello there.")
    assert len(chunks) == 1
    c = chunks[0]
    assert c.sample_rate == 22050 and c.text == "Hello there."
    assert c.samples.dtype == np.float32 and c.samples.ndim == 1
    assert 0.4 < len(c.samples) / c.sample_rate < 2.0
    assert np.abs(c.samples).max() <= 1.0
    assert float(np.sqrt(np.mean(c.samples ** 2))) > 0.02  # not silence


async def test_one_chunk_per_sentence(tts: PiperSynthesizer) -> None:
    chunks = await collect(tts, "First sentence here. And a second one!")
    assert len(chunks) == 2


async def test_nothing_to_say_yields_nothing(tts: PiperSynthesizer) -> None:
    assert await collect(tts, "") == []
    assert await collect(tts, "   ") == []
    assert await collect(tts, " . ") == []


async def test_length_scale_changes_speed() -> None:
    config = load_config(use_user_file=False)
    slow = create(config, length_scale=1.5)
    fast = create(config, length_scale=0.7)
    assert slow.voice is fast.voice  # the voice is loaded once and shared
    text = "The meeting starts at nine tomorrow."
    n_slow = len(await slow.synthesize_all(text))
    n_fast = len(await fast.synthesize_all(text))
    assert n_slow > 1.5 * n_fast


async def test_tts_threads_setting_reaches_onnxruntime() -> None:
    config = load_config(use_user_file=False)
    assert config.tts.threads == 2            # the default (measured: README, [tts])
    two = create(config)
    config.tts.threads = 1
    one = create(config)
    assert two.voice is not one.voice       # one voice per thread count
    opts = two.voice.session.get_session_options()
    assert opts.intra_op_num_threads == 2
    assert one.voice.session.get_session_options().intra_op_num_threads == 1
    same = await two.synthesize_all("Same voice, same words.")
    assert abs(len(same) - len(await one.synthesize_all("Same voice, same words."))) < 2205


async def test_synthesis_runs_off_the_event_loop(tts: PiperSynthesizer) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    await collect(tts, "This is a somewhat longer sentence so the synthesis takes a while.")
    done.set()
    await task
    assert ticks >= 3


async def test_closing_the_iterator_stops_synthesis(tts: PiperSynthesizer) -> None:
    agen = tts.synthesize("One. Two. Three. Four. Five.")
    first = await agen.__anext__()
    assert first.samples.size > 0
    await agen.aclose()
    with pytest.raises(StopAsyncIteration):
        await agen.__anext__()


def test_missing_voice_is_a_clear_error(tmp_path) -> None:
    from localvox.errors import ModelError

    onnx = tmp_path / "voice.onnx"
    onnx.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="voice.onnx.json"):
        PiperSynthesizer(onnx)
