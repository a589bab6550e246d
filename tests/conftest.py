"""Shared test fixtures: speech clips, their layout, and a model-pack guard.

The speech clips in ``tests/fixtures/`` are made by ``scripts/make_fixtures.py`` (Piper's
packaged voice, one espeak-ng clip): 16 kHz mono 16-bit, each with a ``.txt``
transcript, and ``layout.json`` giving the exact sample where each phrase starts and
ends, so tests can check positions without transcribing.

    load_fixture("two_questions")          -> float32 array at 16 kHz
    fixture_layout("two_questions")        -> {"samples": N, "segments": [{text, start, end}, ...]}
    fixture_text("what_time")              -> "What time is it?"
    @needs_models("silero_vad")            -> mark ``models``; skip with the pip command if missing
    pytestmark = model_marks("hey_jarvis") -> the same for a whole module
    require_speech(path)                   -> a real recording from ../shared/speech, or skip/fail
    @needs_speech(root is not None)        -> the same as a mark
    wake_detections(detector, audio)       -> the detections a clip gives, from a fresh reset

The real recordings in ``../shared/speech`` follow the same rule: CI has them beside every
clone, so there a missing recording fails (naming the path); a developer without them gets
a skip with the same text.

A missing pack is a *failure* when ``LOCALVOX_REQUIRE_MODELS=1`` (``scripts/test.sh``, what
CI runs, sets it): a broken or renamed pack install must not land as "N skipped". Then a
skipped test marked ``models`` fails with the skip reason, which names the pack and its pip
command. Deselecting the model tests on purpose (``-m "not models"``) still works: they are
never run, so they never fail.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

REQUIRE_MODELS_ENV = "LOCALVOX_REQUIRE_MODELS"
"""Set to 1 (``scripts/test.sh`` does) to turn a missing model pack into a failure."""

_MODEL_SKIP = re.compile(r"\bmodels?\b|\bpacks?\b|could not import", re.IGNORECASE)
"""Skip reasons that mean "a model pack (or the runtime it needs) is not installed"."""


def models_required() -> bool:
    return os.environ.get(REQUIRE_MODELS_ENV, "") not in ("", "0")


def _speech_reason(path: Path | None) -> str:
    where = path if path is not None else "../shared/speech"
    return (f"real speech not found: {where} (put ../shared/speech beside the repository, or "
            "set LOCALVOX_SPEECH_DIR)")


def require_speech(path: Path) -> Path:
    """``path`` (a recording or folder from ../shared/speech) if it exists. If not: a failure
    under ``LOCALVOX_REQUIRE_MODELS=1`` (CI, where ../shared stands beside the clone, so a
    missing file is a broken checkout, not a reason to go green), else a skip."""
    if path.exists():
        return path
    if models_required():
        pytest.fail(_speech_reason(path), pytrace=False)
    pytest.skip(_speech_reason(path))


@pytest.fixture
def _speech_missing() -> None:
    pytest.fail(_speech_reason(None), pytrace=False)


def needs_speech(present: bool) -> Any:
    """``require_speech`` as a mark, for tests that read ../shared/speech at import time."""
    if present:
        return pytest.mark.usefixtures()
    if models_required():
        return pytest.mark.usefixtures("_speech_missing")
    return pytest.mark.skip(reason=_speech_reason(None))


def wake_detections(detector: Any, audio: np.ndarray, block: int = 512) -> list[Any]:
    """Run a clip through a freshly reset wake detector in ``block``-sized pieces."""
    from localvox.audio.base import SAMPLE_RATE

    detector.reset()
    found = []
    for i in range(0, len(audio), block):
        chunk = audio[i:i + block]
        hit = detector.process(chunk, (i + len(chunk)) / SAMPLE_RATE)
        if hit is not None:
            found.append(hit)
    return found


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    from localvox.audio.wav import read_wav

    path = FIXTURES_DIR / (name if name.endswith(".wav") else f"{name}.wav")
    audio = read_wav(path)
    audio.setflags(write=False)  # cached and shared between tests: copy before editing
    return audio


def load_fixture(name: str) -> np.ndarray:
    """A fixture clip as 16 kHz mono float32 (read-only; ``.copy()`` to modify)."""
    return _load(name)


def fixture_text(name: str) -> str:
    return (FIXTURES_DIR / f"{name}.txt").read_text(encoding="utf-8").strip()


@lru_cache(maxsize=1)
def _layout() -> dict[str, Any]:
    return json.loads((FIXTURES_DIR / "layout.json").read_text(encoding="utf-8"))


def fixture_layout(name: str) -> dict[str, Any]:
    """Where each phrase sits in a clip, in samples at 16 kHz."""
    return _layout()[name]


def missing_models(*model_ids: str) -> list[str]:
    """One-line reasons for each model id that does not resolve (empty if all are there)."""
    from localvox.errors import LocalvoxError
    from localvox.modelpacks import resolve_model

    reasons = []
    for model_id in model_ids:
        try:
            resolve_model(model_id)
        except LocalvoxError as err:
            reasons.append(str(err))
    return reasons


def model_marks(*model_ids: str) -> list[Any]:
    """Marks for a test module needing model packs: ``pytestmark = model_marks("silero_vad")``.

    ``pytest.mark.models`` plus a skip naming the install command if a pack is missing.
    The packs are installed by ``scripts/setup.sh``, so in CI these tests run.
    """
    reasons = missing_models(*model_ids)
    return [pytest.mark.models,
            pytest.mark.skipif(bool(reasons), reason="; ".join(reasons) or "models present")]


def needs_models(*model_ids: str) -> Callable[[Any], Any]:
    """Decorator form of ``model_marks`` for a single test."""
    marks = model_marks(*model_ids)

    def decorate(obj: Any) -> Any:
        for mark in marks:
            obj = mark(obj)
        return obj

    return decorate


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Under ``LOCALVOX_REQUIRE_MODELS=1`` a model test skipped for a missing pack fails.

    Why at the report: the skip can come from ``model_marks`` (a ``skipif``), from a test
    calling ``pytest.skip`` with ``missing_models``' reason, or from ``importorskip``; all
    of them end here, and the reason they carry names the pip package to install.
    """
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and models_required() and item.get_closest_marker("models")):
        return
    if hasattr(report, "wasxfail"):
        # An expected failure is reported as "skipped" too, with the failing test's whole
        # traceback as its text (which mentions models): it must stay an xfail. Turned into
        # "failed" it showed as a failure that pytest's exit status (rightly) did not count.
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if _MODEL_SKIP.search(reason):
        report.outcome = "failed"
        report.longrepr = (f"model pack missing ({REQUIRE_MODELS_ENV}=1, as in CI; deselect "
                           f"model tests with -m \"not models\"): {reason}")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES_DIR


@pytest.fixture(name="load_fixture", scope="session")
def _load_fixture_fixture() -> Callable[[str], np.ndarray]:
    """``load_fixture(name)`` as a fixture, for tests that prefer injection to imports."""
    return load_fixture


@pytest.fixture
def default_config() -> Any:
    """The shipped defaults (``config/default.toml``), ignoring any user config file."""
    from localvox.config import load_config

    return load_config(use_user_file=False)
