"""Compatibility import path for the built-in tools, which now live in
:mod:`localvox.agent.builtin` (one module per tool family). Everything that was importable
from here still is: this module re-exports exactly the package's ``__all__``."""

from __future__ import annotations

from localvox.agent.builtin import *  # noqa: F401,F403  (the re-export is the point)
from localvox.agent.builtin import __all__  # noqa: F401
