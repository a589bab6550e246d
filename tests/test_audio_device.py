"""Sound card I/O without a sound card: errors, device choice, mic resampling, speaker stop.

These machines have no audio hardware, so the PortAudio side is played by
``FakeSoundDevice``: the few sounddevice calls localvox makes (``query_devices``,
``InputStream``/``OutputStream`` with a callback run on its own thread at the device's
pace). Everything from the callback inward -- thread hand-off, resampling, framing,
block playback, stop -- is the real code. ``ClockedSink`` needs no fake at all.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import sys
import threading
import time
import types

import numpy as np
import pytest

from localvox.audio import device
from localvox.audio.base import SAMPLE_RATE, resample
from localvox.audio.clocked import ClockedSink, PlaybackBuffer
from localvox.audio.device import MicSource, SpeakerSink
from localvox.audio.portaudio import find_device, probe
from localvox.audio.resampler import StreamResampler
from localvox.audio.wav import read_wav
from localvox.config import load_config
from localvox.errors import AudioDeviceError


# -- a stand-in for PortAudio --------------------------------------------------------------
class _Stream:
    def __init__(self, *, device, samplerate, channels, dtype, blocksize, latency, callback,
                 fake: "FakeSoundDevice", kind: str) -> None:
        self.rate, self.channels, self.block = int(samplerate), channels, blocksize
        self.callback, self.fake, self.kind = callback, fake, kind
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        fake.streams.append(self)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        period = self.block / self.rate / self.fake.speed
        t0, k = time.monotonic(), 0
        while not self._stop.is_set():
            if self.kind == "input":
                pos = k * self.block
                chunk = self.fake.mic_signal[pos:pos + self.block]
                if chunk.size < self.block:
                    return
                self.callback(chunk.reshape(-1, 1).copy(), self.block, None, None)
            else:
                out = np.full((self.block, self.channels), np.nan, np.float32)
                self.callback(out, self.block, None, None)
                self.fake.played.append(out[:, 0].copy())
            k += 1
            # The fake sound card's own clock thread: a real device calls back on a clock too.
            time.sleep(max(0.0, t0 + k * period - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(1.0)

    def close(self) -> None:
        self.stop()


class FakeSoundDevice(types.ModuleType):
    """Just enough of the ``sounddevice`` module: one 48 kHz-only mic, one speaker."""

    def __init__(self, devices: list[dict] | None = None, speed: float = 1.0) -> None:
        super().__init__("sounddevice")
        self.devices = devices if devices is not None else [
            {"name": "Built-in Microphone", "hostapi": 0, "max_input_channels": 2,
             "max_output_channels": 0, "default_samplerate": 48000.0},
            {"name": "Built-in Speakers", "hostapi": 0, "max_input_channels": 0,
             "max_output_channels": 2, "default_samplerate": 44100.0},
            {"name": "USB Headset", "hostapi": 0, "max_input_channels": 1,
             "max_output_channels": 2, "default_samplerate": 48000.0},
        ]
        self.default = types.SimpleNamespace(device=[0, 1])
        self.speed = speed
        self.streams: list[_Stream] = []
        self.played: list[np.ndarray] = []
        t = np.arange(48000 * 2) / 48000
        self.mic_signal = (0.3 * np.sin(2 * np.pi * 440 * t)
                           + 0.1 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)

    def query_devices(self):
        return list(self.devices)

    def query_hostapis(self):
        return [{"name": "ALSA"}]

    def check_input_settings(self, *, device, samplerate, channels, dtype):
        if samplerate != self.devices[device]["default_samplerate"]:
            raise ValueError("Invalid sample rate [PaErrorCode -9997]")

    check_output_settings = check_input_settings

    def InputStream(self, **kw):  # noqa: N802 (sounddevice's name)
        return _Stream(fake=self, kind="input", **kw)

    def OutputStream(self, **kw):  # noqa: N802
        return _Stream(fake=self, kind="output", **kw)


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    fake = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    yield fake
    for s in fake.streams:
        s.stop()


class _PortAudioMissing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import sounddevice`` fail the way it does without libportaudio2."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise OSError("PortAudio library not found")


@pytest.fixture
def no_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])


# -- no sound card -------------------------------------------------------------------------
def _one_line_text_mode(err: AudioDeviceError) -> str:
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith("no sound card found (") and msg.endswith("running in text mode")
    return msg


def test_missing_portaudio_is_one_line_and_text_mode(no_portaudio) -> None:
    with pytest.raises(AudioDeviceError) as mic_err:
        MicSource()
    assert "libportaudio2" in _one_line_text_mode(mic_err.value)
    with pytest.raises(AudioDeviceError) as spk_err:
        SpeakerSink()
    assert "libportaudio2" in _one_line_text_mode(spk_err.value)
    ok, message = probe()
    assert not ok and "libportaudio2" in message


def test_factories_raise_too(no_portaudio) -> None:
    config = load_config(use_user_file=False)
    for kind in ("source", "sink"):
        with pytest.raises(AudioDeviceError):
            device.create(config, kind=kind)


def test_no_devices_is_one_line_and_text_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(devices=[]))
    with pytest.raises(AudioDeviceError) as err:
        MicSource()
    assert "no input devices" in _one_line_text_mode(err.value)
    with pytest.raises(AudioDeviceError) as err:
        SpeakerSink()
    assert "no output devices" in _one_line_text_mode(err.value)
    assert probe() == (False, "no sound card found (no audio devices); running in text mode")


def test_portaudio_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSoundDevice()

    def broken():
        raise RuntimeError("Error querying device -1\nmore detail")

    fake.query_devices = broken
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    with pytest.raises(AudioDeviceError) as err:
        MicSource()
    assert "Error querying device -1" in _one_line_text_mode(err.value)


# -- choosing a device ---------------------------------------------------------------------
def test_device_by_default_index_and_name(fake_sd: FakeSoundDevice) -> None:
    assert find_device("", "input").name == "Built-in Microphone"
    assert find_device("", "output").name == "Built-in Speakers"
    assert find_device("2", "input").name == "USB Headset"
    assert find_device(2, "output").name == "USB Headset"
    assert find_device("headset", "input").index == 2
    with pytest.raises(AudioDeviceError, match=r"input_device = 'bluetooth'.*have: 0: Built-in"):
        find_device("bluetooth", "input")
    with pytest.raises(AudioDeviceError, match=r"no input device with that index"):
        find_device("1", "input")  # the speaker has no inputs
    ok, message = probe()
    assert ok and "microphone: Built-in Microphone; speaker: Built-in Speakers" in message
    config = load_config(use_user_file=False)
    config.audio.input_device = "usb"
    ok, message = probe(config)
    assert ok and "microphone: USB Headset" in message
    config.audio.output_device = "hdmi"
    ok, message = probe(config)
    assert not ok and message.startswith("[audio] output_device = 'hdmi': no output device")


# -- microphone ----------------------------------------------------------------------------
def test_stream_resampler_has_no_seams() -> None:
    rng = np.random.default_rng(3)
    for rate in (48000, 44100, 22050, 8000):
        x = rng.normal(0, 0.3, rate // 2).astype(np.float32)
        whole = resample(x, rate, SAMPLE_RATE)
        r = StreamResampler(rate)
        out, i = [], 0
        while i < len(x):
            n = int(rng.integers(1, 2000))
            out.append(r.process(x[i:i + n]))
            i += n
        out.append(r.flush())
        streamed = np.concatenate(out)
        assert len(streamed) == len(whole)
        assert np.max(np.abs(streamed - whole)) < 1e-5, rate
    # Resampling each block on its own (what this replaces) does leave seams.
    x48 = rng.normal(0, 0.3, 48000).astype(np.float32)
    blocks = np.concatenate([resample(x48[i:i + 960], 48000, SAMPLE_RATE)
                             for i in range(0, 48000, 960)])
    assert np.max(np.abs(blocks - resample(x48, 48000, SAMPLE_RATE))) > 1e-3


async def test_mic_resamples_a_48k_device_to_16k_frames(fake_sd: FakeSoundDevice) -> None:
    fake_sd.speed = 20.0   # the fake device delivers 20x faster than real time
    mic = MicSource("", frame_ms=32)
    frames = []
    async for frame in mic.frames():
        frames.append(frame)
        if len(frames) == 40:
            break
    await mic.close()
    assert mic.device_rate == 48000   # 16 kHz was refused, so it opened at the native rate
    assert all(len(f.samples) == 512 and f.samples.dtype == np.float32 for f in frames)
    assert [f.start_s for f in frames] == pytest.approx([i * 0.032 for i in range(40)])
    got = np.concatenate([f.samples for f in frames])
    want = resample(fake_sd.mic_signal, 48000, SAMPLE_RATE)[:len(got)]
    assert np.max(np.abs(got - want)) < 1e-4
    assert mic.overruns == 0
    assert all(s._stop.is_set() for s in fake_sd.streams)   # close() stopped the device


# -- speaker -------------------------------------------------------------------------------
async def test_speaker_stop_silences_within_one_block(fake_sd: FakeSoundDevice) -> None:
    spk = SpeakerSink("", block_ms=20)
    assert spk.device_rate == 44100
    tone = (0.5 * np.sin(2 * np.pi * 300 * np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE)
            ).astype(np.float32)
    await spk.play(tone, SAMPLE_RATE)
    await asyncio.sleep(0.2)
    await spk.stop()
    played_at_stop = spk.samples_played
    blocks_at_stop = len(fake_sd.played)
    await asyncio.sleep(0.15)
    await spk.close()
    block16 = SAMPLE_RATE * 20 // 1000
    # Something played, far less than the 2 s queued, and at most one block after stop().
    assert 0 < played_at_stop < SAMPLE_RATE
    assert spk.samples_played - played_at_stop <= block16
    assert spk.samples_dropped > SAMPLE_RATE
    after = np.concatenate(fake_sd.played[blocks_at_stop + 1:])
    assert after.size > 0 and np.all(after == 0.0)
    assert spk.first_audio_at is None


async def test_speaker_drain_waits_for_the_queue(fake_sd: FakeSoundDevice) -> None:
    spk = SpeakerSink("USB", block_ms=20)
    clip = np.full(SAMPLE_RATE // 5, 0.25, np.float32)   # 200 ms
    t0 = time.monotonic()
    await spk.play(clip, SAMPLE_RATE)
    await spk.drain()
    elapsed = time.monotonic() - t0
    await spk.close()
    assert elapsed >= 0.18    # it waited for the audio to go out (a lower bound only)
    assert spk.samples_played == pytest.approx(len(clip), abs=2)
    out = np.concatenate(fake_sd.played)
    assert np.count_nonzero(np.isclose(out, 0.25, atol=1e-3)) >= 0.95 * 48000 // 5


# -- the clocked sink ----------------------------------------------------------------------
async def test_clocked_sink_stop_cuts_playback(tmp_path) -> None:
    sink = ClockedSink(tmp_path / "out.wav", speed=4.0, block_ms=20)
    reply = np.full(SAMPLE_RATE * 4, 0.2, np.float32)   # 4 s: 1 s of wall time at 4x
    await sink.play(reply, SAMPLE_RATE)
    await asyncio.sleep(0.25)
    assert sink.playing
    await sink.stop()
    cut = sink.samples_played
    await asyncio.sleep(0.2)
    assert 0 < cut < len(reply) // 2
    assert sink.samples_played - cut <= sink.block
    assert sink.samples_dropped + sink.samples_played == len(reply)
    assert not sink.playing and sink.stops == 1
    await sink.drain()   # nothing left: returns at once
    await sink.close()
    written = read_wav(tmp_path / "out.wav")
    assert len(written) == sink.samples_played


async def test_clocked_sink_plays_at_clock_rate_and_drains() -> None:
    sink = ClockedSink(speed=5.0, block_ms=20)
    clip = np.ones(22050, np.float32) * 0.1          # 1 s at 22.05 kHz (Piper's rate)
    t0 = time.monotonic()
    await sink.play(clip, 22050)
    await asyncio.sleep(0.05)
    early = sink.samples_played
    await sink.drain()
    elapsed = time.monotonic() - t0
    assert 0 < early < SAMPLE_RATE                   # not all at once
    assert sink.samples_played == SAMPLE_RATE        # resampled to 16 kHz, all played
    assert elapsed >= 0.19                           # 1 s at 5x (a lower bound only)
    assert sink.first_audio_at is not None and sink.first_audio_at >= t0
    await sink.play(clip, 22050)                     # plays again after idling
    await sink.drain()
    assert sink.samples_played == 2 * SAMPLE_RATE
    await sink.close()


def test_playback_buffer_pulls_in_order_and_clears() -> None:
    buf = PlaybackBuffer()
    buf.push(np.arange(5, dtype=np.float32))
    buf.push(np.arange(5, 10, dtype=np.float32))
    assert buf.pull(3).tolist() == [0, 1, 2]
    assert buf.pull(4).tolist() == [3, 4, 5, 6]
    assert buf.queued == 3
    assert buf.clear() == 3
    assert buf.pull(4).size == 0
