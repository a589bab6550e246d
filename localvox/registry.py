"""Backends by name: ``localvox.<stage>.<backend>`` modules exposing ``create(config, ...)``.

Adding a backend is one new file in the stage's package; config names it, nothing else
changes. Modules are imported only when chosen, so heavy libraries load lazily.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from localvox.errors import ConfigError

if TYPE_CHECKING:
    from localvox.config import Config

STAGES = ("audio", "wake", "vad", "asr", "llm", "tts")


def backend_module(stage: str, backend: str) -> ModuleType:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    if not backend.replace("_", "").isalnum():
        raise ConfigError(f"[{stage}] backend {backend!r} is not a valid backend name")
    try:
        return importlib.import_module(f"localvox.{stage}.{backend}")
    except ModuleNotFoundError as err:
        if err.name == f"localvox.{stage}.{backend}":
            raise ConfigError(f"[{stage}] backend {backend!r} does not exist") from None
        raise


def create(stage: str, backend: str, config: "Config", **kwargs: Any) -> Any:
    """Build a backend: ``localvox.<stage>.<backend>.create(config, **kwargs)``."""
    return backend_module(stage, backend).create(config, **kwargs)
