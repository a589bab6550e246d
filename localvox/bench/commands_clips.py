"""``bench commands``' labelled clips and how one clip's tool call is scored.

Why a module of its own: the clip set and Picovoice's acceptance rule are what both ways of
running the bench share (clips through the whole spoken loop in :mod:`localvox.bench.commands`,
or ``--reroute``: saved transcripts through today's router), and they need no audio or model,
so ``tests/test_bench_commands.py`` checks the scoring on its own.

A clip counts as accepted when the first tool call is the labelled intent's tool and its
arguments equal the labelled slots exactly (lower-cased; no slot missing, none extra).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Clip", "Result", "load_clips", "parse_snrs", "snr_label", "score"]


@dataclass
class Clip:
    """One labelled recording: ``NAME.wav`` and the intent and slots of ``NAME.json``."""

    name: str
    path: Path
    intent: str
    slots: dict[str, str]


@dataclass
class Result:
    """One clip at one SNR: what the agent heard and called, the score, the latencies (ms
    from the true end of speech; None where that milestone never came)."""

    clip: str
    snr: str
    transcript: str
    tool: str | None
    arguments: dict[str, Any]
    accepted: bool
    slots_right: int
    slots_total: int
    turns: int
    endpoint_ms: float | None
    tool_ms: float | None
    errors: list[str] = field(default_factory=list)


def load_clips(directory: str | Path) -> list[Clip]:
    from localvox.errors import LocalvoxError

    d = Path(directory)
    if not d.is_dir():
        raise LocalvoxError(f"{d}: no such folder (expected WAV + .json labels)")
    clips = []
    for wav in sorted(d.glob("*.wav")):
        label = wav.with_suffix(".json")
        if not label.is_file():
            continue
        try:
            data = json.loads(label.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            print(f"skipping {wav.name}: bad label ({err})")
            continue
        clips.append(Clip(wav.stem, wav, str(data.get("intent") or ""),
                          {k: str(v).strip() for k, v in (data.get("slots") or {}).items()}))
    if not clips:
        raise LocalvoxError(f"{d}: no WAV files with a .json label beside them")
    return clips


def parse_snrs(text: str) -> list[float | None]:
    from localvox.errors import ConfigError

    out: list[float | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "clean":
            out.append(None)
            continue
        try:
            out.append(float(part.removesuffix("db")))
        except ValueError:
            raise ConfigError(f"--snr {part!r}: expected clean or a number of dB") from None
    return out


def snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def score(clip: Clip, tool: str | None, args: dict[str, Any],
          params: dict[str, Any]) -> tuple[bool, int, list[str]]:
    """(accepted, labelled slots right, what was wrong) for one clip's tool call.

    A labelled slot is compared with the argument of the parameter that allows its value
    (the barista's ``shots`` allows "double shot", the label calls it ``numberOfShots``).
    """
    errors: list[str] = []
    if tool is None:
        return False, 0, ["no command"]
    if _key(tool) != _key(clip.intent):
        errors.append(f"intent {tool} (want {clip.intent})")
    got = {k: str(v).lower() for k, v in args.items() if v is not None}
    right = 0
    used: set[str] = set()
    for slot, want in clip.slots.items():
        pname = next((p for p, prop in params.items()
                      if want.lower() in [str(x).lower() for x in prop.get("enum") or []]),
                     None) or next((p for p in params if _key(p) == _key(slot)), slot)
        used.add(pname)
        if got.get(pname) == want.lower():
            right += 1
        else:
            errors.append(f"{slot}: {got.get(pname)!r} (want {want!r})")
    for pname, value in got.items():
        if pname not in used:
            errors.append(f"extra {pname}={value!r}")
    return not errors, right, errors

