"""Acoustic echo cancellation: remove the assistant's own voice from the microphone.

Public surface: :class:`EchoCanceller` (``push_reference`` / ``stop_reference`` /
``clean``), :class:`EchoState`, :func:`create` (None when ``[echo] enabled = false``),
the barge-in rule in :mod:`localvox.echo.bargein` and the echo-path measurement in
:mod:`localvox.echo.measure`. numpy/scipy only.
"""

from localvox.echo.canceller import EchoCanceller, EchoState, create

__all__ = ["EchoCanceller", "EchoState", "create"]
