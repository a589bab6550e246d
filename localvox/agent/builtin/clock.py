"""Time and date tools. The clock is injected (``now``) so tests can pin the time."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from localvox.agent.tools import function_tool

__all__ = ["Now", "local_now", "ClockTools"]

Now = Callable[[], dt.datetime]
"""Returns the current local time, timezone-aware."""


def local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


class ClockTools:
    """``get_time`` and ``get_date``. Mixed into :class:`BuiltinTools`, which sets ``_now``."""

    _now: Now

    @function_tool
    def get_time(self) -> str:
        """Get the current local time."""
        now = self._now()
        return f"It's {now.strftime('%I:%M %p').lstrip('0')}."

    @function_tool
    def get_date(self) -> str:
        """Get today's date and day of the week."""
        now = self._now()
        return f"Today is {now.strftime('%A, %B')} {now.day}, {now.year}."
