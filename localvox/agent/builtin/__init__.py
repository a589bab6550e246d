"""The default assistant's tools, one module per family, assembled into :class:`BuiltinTools`.

| module | tools | engine |
|---|---|---|
| ``clock`` | get_time, get_date | an injectable ``now`` |
| ``timers`` | set_timer, set_alarm, list_timers, cancel_timers | ``TimerService`` |
| ``calculator`` | calculate | ``safe_calculate`` (AST whitelist, no eval) |
| ``units`` | convert_units | ``convert`` over the ``UNITS`` table |
| ``notes`` | add_note, list_notes, delete_note | ``NotesStore`` (SQLite) |
| ``weather`` | get_weather | ``WeatherClient`` (open-meteo style HTTP) |

Every tool returns a short sentence that can be spoken as-is: in intent mode the assistant
says the result without asking a 135M-parameter model to rephrase "84" (it garbles it); in
native mode a capable model reads the same sentence as the tool result.

Each family is a mixin whose ``@function_tool`` methods ``ToolRegistry.discover`` finds
through the MRO, so adding a family is one new module and one base class here. The base
order below is the order the tools are offered to the model.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from localvox.agent.builtin.calculator import (CalculationError, CalculatorTools, format_number,
                                               safe_calculate, speak_expression)
from localvox.agent.builtin.clock import ClockTools, local_now
from localvox.agent.builtin.notes import NotesStore, NoteTools, default_notes_path
from localvox.agent.builtin.timers import Reminder, TimerService, TimerTools, describe_duration
from localvox.agent.builtin.units import UNITS, Unit, UnitTools, convert, find_unit, unit_aliases
from localvox.agent.builtin.weather import WEATHER_OFFLINE, WeatherClient, WeatherTools

if TYPE_CHECKING:
    from localvox.config import Config

__all__ = [
    "BuiltinTools", "CalculationError", "safe_calculate", "format_number", "speak_expression",
    "Unit", "UNITS", "unit_aliases", "find_unit", "convert", "Reminder", "describe_duration",
    "TimerService", "NotesStore", "default_notes_path", "WEATHER_OFFLINE", "WeatherClient",
]


class BuiltinTools(ClockTools, TimerTools, CalculatorTools, UnitTools, NoteTools, WeatherTools):
    """The default assistant's tools. One instance per session (timers are per loop);
    notes are shared through the SQLite file."""

    def __init__(self, config: "Config | None" = None, *, notes_path: Path | None = None,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        from localvox.config import AgentConfig

        agent = config.agent if config is not None else AgentConfig()
        self.notes = NotesStore(notes_path or default_notes_path(config))
        self.weather = WeatherClient(agent.weather_url, agent.geocode_url,
                                     timeout_s=min(5.0, agent.tool_timeout_s))
        self.timers = TimerService()
        self._now = now or local_now
