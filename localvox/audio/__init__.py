"""Audio I/O: frames, sources (microphone, WAV) and sinks (speaker, WAV, null)."""

from localvox.audio.base import AudioFrame, AudioSink, AudioSource, SAMPLE_RATE

__all__ = ["AudioFrame", "AudioSink", "AudioSource", "SAMPLE_RATE"]
