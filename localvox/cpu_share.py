"""Who gets the two cores first: a reply's first audio, before the LLM's next token.

On a chat turn the LLM keeps writing while Piper voices the reply's first chunk, and on a
2-core laptop the two share the same cores: Piper's first chunk ("Owls are known for
their") took 71-80 ms alone, 119-125 ms while the 1.5B decoded beside it, and 82-101 ms
when the decode paused between tokens (one process, this 2-core CPU, session 8). The user
waits for that chunk; nobody waits for the LLM's tenth token, which is ~1.4 s of
speech ahead of the speaker. So latency-critical work holds ``urgent()`` and background
loops call ``yield_to_urgent()`` between steps.

A cooperative gate, not a scheduler: nothing is pre-empted, a background loop pauses at its
next step (at most one token late) and waits at most ``max_wait_s``, so a holder that hangs
costs the background work a bounded delay, never a deadlock. Thread-safe; worker threads
wait, the event loop only enters and leaves ``urgent()``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["CPU", "CpuShare"]


class CpuShare:
    """A count of urgent holders; background loops wait while it is above zero."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._clear = threading.Event()
        self._clear.set()
        self.parked = threading.Event()
        """Set while a background loop is waiting on the gate (tests wait on it)."""
        self.yields = 0
        """How many times a background loop waited (traces and tests read it)."""

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the cores for latency-critical work (the reply's first audio)."""
        with self._lock:
            self._holders += 1
            self._clear.clear()
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._clear.set()

    @property
    def held(self) -> bool:
        return not self._clear.is_set()

    def yield_to_urgent(self, max_wait_s: float = 0.5) -> bool:
        """Between two steps of background work: wait while urgent work runs (at most
        ``max_wait_s``). True if it waited."""
        if self._clear.is_set():
            return False
        self.yields += 1
        self.parked.set()
        try:
            self._clear.wait(max_wait_s)
        finally:
            self.parked.clear()
        return True


CPU = CpuShare()
"""The process's one gate: the speech output holds it, the in-process LLM yields to it."""
