"""The spoken turns ``localvox bench latency`` plays: Piper and real people, tool and chat.

Why three sources: the Piper fixtures (``tests/fixtures``) are the turns the bench always
had; tool questions synthesised with the configured Piper voice give the tool turns a
real user asks (time, timers, arithmetic, units); and recordings of real people from
``../shared/speech`` (CMU ARCTIC prompts and crowd-sourced coffee orders, with their own
endings and room tone) keep the ASR, the VAD and the end-of-turn detector honest. Whether
a turn is a *tool* turn or a *chat* turn is not decided here: the bench counts whether
the LLM was called while the turn was answered.

(This module is skipped by ``localvox bench`` discovery: it has no ``NAME``.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SR = 16000

PIPER_TOOL = ("What time is it?", "Set a timer for five minutes.", "What is twelve times eight?",
              "Convert ten miles to kilometers.", "What's the date today?")
PIPER_CHAT = ("Tell me a fun fact about owls.", "Why is the sky blue?",
              "Can you suggest a name for my cat?")


@dataclass
class Clip:
    name: str
    text: str
    samples: "np.ndarray"
    speech_end_s: float
    """True end of speech inside ``samples`` (seconds)."""
    source: str = "piper"
    """``piper`` (fixtures or synthesised) or ``real`` (../shared/speech)."""


def fixture_clips(folder: str | Path) -> list[Clip]:
    """Single questions/statements from the Piper fixtures (not wake phrases, not weather:
    the weather tool needs the network)."""
    from localvox.audio.wav import read_wav
    from localvox.errors import LocalvoxError

    folder = Path(folder)
    layout_path = folder / "layout.json"
    if not layout_path.is_file():
        raise LocalvoxError(f"no {layout_path}: pass --fixtures DIR with the WAV fixtures")
    layout = json.loads(layout_path.read_text(encoding="utf-8"))
    clips: list[Clip] = []
    margin = int(0.05 * SR)
    for name, info in layout.items():
        path = folder / f"{name}.wav"
        if not path.is_file():
            continue
        audio = read_wav(path)
        for i, seg in enumerate(info["segments"]):
            text = seg["text"]
            if "jarvis" in text.lower() or "weather" in text.lower():
                continue
            a, b = max(0, seg["start"] - margin), min(len(audio), seg["end"] + margin)
            clips.append(Clip(f"{name}#{i}", text, audio[a:b].copy(), (seg["end"] - a) / SR))
    return clips


def piper_clips(tts: Any) -> list[Clip]:
    """Tool and chat questions spoken by the configured Piper voice (at 16 kHz)."""
    import numpy as np

    from localvox.audio.base import resample
    from localvox.bench.endpoint_data import speech_bounds

    out: list[Clip] = []
    for i, text in enumerate(PIPER_TOOL + PIPER_CHAT):
        x = resample(np.concatenate(tts.synthesize_blocking(text)), tts.sample_rate, SR)
        _, end = speech_bounds(x)
        out.append(Clip(f"piper{i}", text, x, end))
    return out


def real_clips(root: Path, coffee: int = 4) -> list[Clip]:
    """CMU ARCTIC prompts and the first ``coffee`` coffee orders, cut 50 ms after the
    energy end of speech (the bench appends its own silence)."""
    from localvox.audio.wav import read_wav
    from localvox.bench.endpoint_data import speech_bounds

    paths = sorted((root / "asr" / "arctic").glob("*.wav"))
    paths += sorted((root / "intent" / "coffee").glob("*.wav"))[:coffee]
    out: list[Clip] = []
    for path in paths:
        x = read_wav(path)
        start, end = speech_bounds(x)
        a = max(0, int((start - 0.3) * SR))
        b = min(len(x), int((end + 0.05) * SR))
        txt = path.with_suffix(".txt")
        text = txt.read_text(encoding="utf-8").strip() if txt.is_file() else "(coffee order)"
        out.append(Clip(path.stem[:24], text, x[a:b].copy(), end - a / SR, source="real"))
    return out


def interleave(*groups: list[Clip]) -> list[Clip]:
    """One from each group in turn, so a short run still mixes sources."""
    out: list[Clip] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out


class CountingLLM:
    """Wraps the LLM and counts ``chat`` calls: a turn that made none is a tool turn
    (answered by the intent router and a tool), one that made any is a chat turn."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self.calls = 0
        self.name = getattr(llm, "name", "llm")

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._llm.chat(*args, **kwargs)

    async def close(self) -> None:
        await self._llm.close()

    def __getattr__(self, name: str) -> Any:   # warm-up, tokenizer access etc.
        return getattr(self._llm, name)
