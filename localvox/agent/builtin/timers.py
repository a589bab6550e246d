"""Timer and alarm tools, and the service that makes them ring.

Timers fire while the event loop runs: each due timer or alarm is put on
``TimerService.due`` (an ``asyncio.Queue[Reminder]``), which the speech loop, the TUI or
``localvox chat`` drain and speak ("Your 5 minute timer is done."). ``call_later`` rather
than a polling task, so an idle assistant does no work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass

from localvox.agent.builtin.clock import Now
from localvox.agent.tools import function_tool

__all__ = ["Reminder", "describe_duration", "TimerService", "TimerTools"]


@dataclass
class Reminder:
    """A timer or alarm that went off; ``message`` is what to say."""

    kind: str  # "timer" or "alarm"
    label: str
    due: float  # epoch seconds
    message: str
    id: int = 0


def describe_duration(seconds: float) -> str:
    """300 → "5 minute", 330 → "5 and a half minute", 5400 → "1 and a half hour"."""
    s = int(round(seconds))
    for unit, size in (("hour", 3600), ("minute", 60)):
        if s >= size and s % size == 0:
            return f"{s // size} {unit}"
        if s >= size and s % size == size // 2:
            return f"{s // size} and a half {unit}"
    if s >= 3600:
        h, m = divmod(s // 60, 60)
        return f"{h} hour {m} minute"
    if s >= 60:
        m, sec = divmod(s, 60)
        return f"{m} minute {sec} second"
    return f"{s} second"


def _plural_duration(seconds: float) -> str:
    text = describe_duration(seconds)
    words = text.split()
    if words[0] != "1" or "and" in words:
        words[-1] += "s"
    if len(words) == 4 and words[1] in ("hour", "minute"):  # "2 hour 15 minute"
        words[1] += "s" if words[0] != "1" else ""
        words.insert(2, "and")
    return " ".join(words)


@dataclass
class _Pending:
    reminder: Reminder
    handle: asyncio.TimerHandle


class TimerService:
    """Schedules reminders on the running event loop; due ones go on ``due``."""

    def __init__(self) -> None:
        self.due: asyncio.Queue[Reminder] = asyncio.Queue()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1

    def schedule(self, kind: str, label: str, due: float, message: str) -> Reminder:
        loop = asyncio.get_running_loop()
        reminder = Reminder(kind, label, due, message, self._next_id)
        self._next_id += 1
        delay = max(0.0, due - time.time())
        handle = loop.call_later(delay, self._fire, reminder.id)
        self._pending[reminder.id] = _Pending(reminder, handle)
        return reminder

    def _fire(self, reminder_id: int) -> None:
        pending = self._pending.pop(reminder_id, None)
        if pending is not None:
            self.due.put_nowait(pending.reminder)

    def pending(self) -> list[Reminder]:
        return sorted((p.reminder for p in self._pending.values()), key=lambda r: r.due)

    def cancel_all(self) -> int:
        n = len(self._pending)
        for p in self._pending.values():
            p.handle.cancel()
        self._pending.clear()
        return n


class TimerTools:
    """``set_timer``, ``set_alarm``, ``list_timers``, ``cancel_timers``.

    Mixed into :class:`BuiltinTools`, which provides ``timers`` and ``_now``.
    """

    timers: TimerService
    _now: Now

    @function_tool
    async def set_timer(self, seconds: float, label: str = "") -> str:
        """Start a countdown timer that rings after the given time.

        Args:
            seconds: Length of the timer in seconds.
            label: Optional name for the timer, e.g. "pasta".
        """
        if not 0 < seconds <= 7 * 86400:
            raise ValueError("a timer must be between 1 second and 7 days")
        name = label.strip()
        what = f"{name} timer" if name else f"{describe_duration(seconds)} timer"
        self.timers.schedule("timer", name, time.time() + seconds,
                             f"Your {what} is done.")
        return f"Timer set for {_plural_duration(seconds)}" + (f" for {name}." if name else ".")

    @function_tool
    async def set_alarm(self, time_of_day: str) -> str:
        """Set an alarm for a time of day, the next time that time comes round.

        Args:
            time_of_day: 24-hour time "HH:MM", e.g. "07:30".
        """
        from localvox.agent.slots import parse_clock  # lazy: slots imports the tools

        clock = parse_clock(time_of_day)
        if clock is None:
            raise ValueError(f"I can't read {time_of_day!r} as a time of day")
        hour, minute = map(int, clock.split(":"))
        now = self._now()
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due <= now:
            due += dt.timedelta(days=1)
        spoken = due.strftime("%I:%M %p").lstrip("0")
        self.timers.schedule("alarm", clock, due.timestamp(),
                             f"It's {spoken}. Your alarm is going off.")
        day = "today" if due.date() == now.date() else "tomorrow"
        return f"Alarm set for {spoken} {day}."

    @function_tool
    async def list_timers(self) -> str:
        """Say which timers and alarms are running and how long is left."""
        pending = self.timers.pending()
        if not pending:
            return "You have no timers or alarms running."
        parts = []
        for r in pending:
            left = max(0, r.due - time.time())
            name = f"{r.label} " if r.label and r.kind == "timer" else ""
            if r.kind == "alarm":
                parts.append(f"an alarm at {r.label}")
            else:
                parts.append(f"the {name}timer with {_plural_duration(max(1, left))} left")
        return "You have " + ", and ".join(parts) + "."

    @function_tool
    async def cancel_timers(self) -> str:
        """Cancel all running timers and alarms."""
        n = self.timers.cancel_all()
        if n == 0:
            return "There were no timers or alarms to cancel."
        return f"Cancelled {n} timer{'s' if n != 1 else ''}." if n else ""
