"""NullSink: the speaker when there is none -- counts what it is given, keeps nothing."""

from __future__ import annotations

import asyncio
import gc
import weakref

import numpy as np

from localvox.audio.base import SAMPLE_RATE, AudioSink
from localvox.audio.null import NullSink
from localvox.audio.wav import WavSink
from localvox.config import load_config
from localvox.errors import AudioDeviceError


async def test_counts_samples_at_16k_and_keeps_no_audio():
    sink = NullSink()
    assert isinstance(sink, AudioSink)
    block = np.ones(SAMPLE_RATE, np.float32)
    alive = weakref.ref(block)
    await sink.play(block, SAMPLE_RATE)
    await sink.play(np.ones(22050, np.float32), 22050)      # a Piper voice's rate
    await sink.drain()
    assert sink.samples_played == 2 * SAMPLE_RATE
    del block
    gc.collect()
    assert alive() is None                                  # nothing held on to the audio
    memory = WavSink(None)                                  # the in-memory sink still keeps it
    await memory.play(np.ones(100, np.float32), SAMPLE_RATE)
    assert len(memory.audio()) == 100


async def test_stop_drops_a_block_still_waiting_to_play():
    sink = NullSink()
    waiting = asyncio.ensure_future(sink.play(np.ones(1600, np.float32), SAMPLE_RATE))
    await asyncio.sleep(0)          # the play has started and yields before it "plays"
    await sink.stop()               # barge-in
    await waiting
    assert sink.samples_played == 0 and sink.stops == 1
    await sink.play(np.ones(1600, np.float32), SAMPLE_RATE)   # playback resumes afterwards
    assert sink.samples_played == 1600
    await sink.close()
    await sink.play(np.ones(1600, np.float32), SAMPLE_RATE)   # closed: nothing more
    assert sink.samples_played == 1600


def test_no_sound_card_falls_back_to_null_sink(monkeypatch):
    from localvox import registry
    from localvox.pipeline import factory

    def no_device(stage, backend, config, **kw):
        raise AudioDeviceError("no audio output device (install libportaudio2)")

    monkeypatch.setattr(registry, "create", no_device)
    notices: list = []
    sink = factory.open_sink(load_config(use_user_file=False), notices=notices)
    assert isinstance(sink, NullSink)
    assert notices and "no audio output device" in notices[0].message


def test_registry_builds_it():
    from localvox import registry

    assert isinstance(registry.create("audio", "null", load_config(use_user_file=False)),
                      NullSink)
