"""The default assistant's tools: time and date, timers and alarms, a safe calculator,
unit conversion, notes (SQLite) and weather (open-meteo style HTTP API).

Every tool returns a short sentence that can be spoken as-is: in intent mode the assistant
says the result without asking a 135M-parameter model to rephrase "84" (it garbles it); in
native mode a capable model reads the same sentence as the tool result.

Timers fire while the event loop runs: each due timer or alarm is put on
``BuiltinTools.timers.due`` (an ``asyncio.Queue[Reminder]``), which the speech loop, the
TUI or ``localvox chat`` drain and speak ("Your 5 minute timer is done.").
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import math
import operator
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from localvox.agent.tools import function_tool

if TYPE_CHECKING:
    from localvox.config import Config

WEATHER_OFFLINE = "I can't reach the weather service right now."

# --------------------------------------------------------------------------------------------
# Calculator: an AST walk over a whitelist. No eval, no names, no attributes.
# --------------------------------------------------------------------------------------------


class CalculationError(ValueError):
    """The expression is not arithmetic we evaluate (the message is spoken)."""


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x), "abs": abs,
    "round": round, "sin": math.sin, "cos": math.cos, "tan": math.tan, "log": math.log10,
    "ln": math.log, "exp": math.exp,
}
_CONSTS = {"pi": math.pi, "e": math.e}


def safe_calculate(expression: str) -> float:
    """Evaluate arithmetic: + - * / // % **, parentheses, sqrt/cbrt/abs/round/sin/cos/tan/
    log/ln/exp, pi and e. Anything else (names, attributes, subscripts, strings, lambdas)
    is a ``CalculationError`` naming what was refused."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if len(text) > 200:
        raise CalculationError("that expression is too long")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculationError(f"I can't read {expression!r} as arithmetic") from None
    return _eval(tree.body)


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e6 and right > 10):
            raise CalculationError("that power is too large to compute")
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculationError("you can't divide by zero") from None
        except OverflowError:
            raise CalculationError("the result is too large") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _FUNCS and not node.keywords and len(node.args) == 1:
        try:
            return _FUNCS[node.func.id](_eval(node.args[0]))
        except (ValueError, OverflowError):
            raise CalculationError(f"{node.func.id} is undefined for that number") from None
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    what = {ast.Attribute: "attribute access", ast.Name: "names", ast.Subscript: "indexing",
            ast.Call: "that function", ast.Lambda: "lambdas"}.get(type(node),
                                                                    type(node).__name__)
    raise CalculationError(f"the calculator only does arithmetic, not {what}")


def format_number(value: float) -> str:
    """Speakable: 84, 62.5, 0.333, 1,234,567."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1e15 or (value != 0 and abs(value) < 1e-4):
        return f"{value:.3e}"
    if abs(value) >= 100:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.4g}" if abs(value) < 1 else f"{value:,.3f}".rstrip("0").rstrip(".")


def speak_expression(expr: str) -> str:
    import re

    t = expr.replace(" ", "")
    t = re.sub(r"sqrt\(([^()]*)\)", r"the square root of \1", t)
    t = re.sub(r"cbrt\(([^()]*)\)", r"the cube root of \1", t)
    t = re.sub(r"\(([\d.]+)/100\)\*", r"\1 percent of ", t)
    for sym, word in (("**", " to the power of "), ("*", " times "), ("/", " divided by "),
                      ("+", " plus "), ("-", " minus ")):
        t = t.replace(sym, word)
    return re.sub(r"\s+", " ", t).strip()


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str
    factor: float  # to the dimension's base unit (temperature is special-cased)
    aliases: tuple[str, ...] = ()


_UNITS = [
    Unit("meter", "length", 1, ("metre", "metres", "meters", "m")),
    Unit("kilometer", "length", 1000, ("kilometre", "kilometres", "kilometers", "km", "kms")),
    Unit("centimeter", "length", 0.01, ("centimetre", "centimetres", "centimeters", "cm")),
    Unit("millimeter", "length", 0.001, ("millimetre", "millimetres", "millimeters", "mm")),
    Unit("mile", "length", 1609.344, ("miles", "mi")),
    Unit("yard", "length", 0.9144, ("yards", "yd", "yds")),
    Unit("foot", "length", 0.3048, ("feet", "ft")),
    Unit("inch", "length", 0.0254, ("inches",)),
    Unit("nautical mile", "length", 1852, ("nautical miles",)),
    Unit("kilogram", "mass", 1, ("kilograms", "kilo", "kilos", "kg", "kgs")),
    Unit("gram", "mass", 0.001, ("grams", "g", "gr")),
    Unit("milligram", "mass", 1e-6, ("milligrams", "mg")),
    Unit("pound", "mass", 0.45359237, ("pounds", "lb", "lbs")),
    Unit("ounce", "mass", 0.028349523125, ("ounces", "oz")),
    Unit("stone", "mass", 6.35029318, ("stones",)),
    Unit("tonne", "mass", 1000, ("tonnes", "ton", "tons", "metric ton", "metric tons")),
    Unit("liter", "volume", 1, ("litre", "litres", "liters", "l")),
    Unit("milliliter", "volume", 0.001, ("millilitre", "millilitres", "milliliters", "ml")),
    Unit("gallon", "volume", 3.785411784, ("gallons", "gal")),
    Unit("quart", "volume", 0.946352946, ("quarts", "qt")),
    Unit("pint", "volume", 0.473176473, ("pints", "pt")),
    Unit("cup", "volume", 0.2365882365, ("cups",)),
    Unit("fluid ounce", "volume", 0.0295735295625, ("fluid ounces", "fl oz")),
    Unit("tablespoon", "volume", 0.01478676478125, ("tablespoons", "tbsp")),
    Unit("teaspoon", "volume", 0.00492892159375, ("teaspoons", "tsp")),
    Unit("cubic meter", "volume", 1000, ("cubic meters", "cubic metre", "cubic metres")),
    Unit("meter per second", "speed", 1, ("meters per second", "metres per second", "m/s")),
    Unit("kilometer per hour", "speed", 1 / 3.6,
         ("kilometers per hour", "kilometres per hour", "kilometre per hour",
          "kilometers an hour", "kilometres an hour", "km/h", "kmh", "kph")),
    Unit("mile per hour", "speed", 0.44704, ("miles per hour", "miles an hour", "mph")),
    Unit("knot", "speed", 0.514444, ("knots",)),
    Unit("second", "time", 1, ("seconds", "sec", "secs", "s")),
    Unit("minute", "time", 60, ("minutes", "min", "mins")),
    Unit("hour", "time", 3600, ("hours", "hr", "hrs", "h")),
    Unit("day", "time", 86400, ("days",)),
    Unit("week", "time", 604800, ("weeks",)),
    Unit("millisecond", "time", 0.001, ("milliseconds", "ms")),
    Unit("celsius", "temperature", 1, ("centigrade", "c", "°c")),
    Unit("fahrenheit", "temperature", 1, ("f", "°f")),
    Unit("kelvin", "temperature", 1, ("kelvins",)),
]
UNITS: dict[str, Unit] = {u.name: u for u in _UNITS}


def unit_aliases() -> dict[str, str]:
    """Every spoken or written form → canonical unit name."""
    out: dict[str, str] = {}
    for u in _UNITS:
        out[u.name] = u.name
        for a in u.aliases:
            out[a] = u.name
    return out


def find_unit(text: str) -> Unit:
    t = text.strip().lower().removeprefix("degrees ").removeprefix("degree ")
    name = unit_aliases().get(t) or unit_aliases().get(t.rstrip("s"))
    if name is None:
        raise ValueError(f"I don't know the unit {text!r}")
    return UNITS[name]


def _to_kelvin(value: float, unit: str) -> float:
    return {"celsius": value + 273.15, "fahrenheit": (value - 32) * 5 / 9 + 273.15,
            "kelvin": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"celsius": value - 273.15, "fahrenheit": (value - 273.15) * 9 / 5 + 32,
            "kelvin": value}[unit]


def convert(value: float, from_unit: str, to_unit: str) -> tuple[float, Unit, Unit]:
    src, dst = find_unit(from_unit), find_unit(to_unit)
    if src.dimension != dst.dimension:
        raise ValueError(f"I can't convert {src.dimension} ({src.name}) "
                         f"to {dst.dimension} ({dst.name})")
    if src.dimension == "temperature":
        return _from_kelvin(_to_kelvin(value, src.name), dst.name), src, dst
    return value * src.factor / dst.factor, src, dst


def _plural(unit: Unit, value: float) -> str:
    if unit.dimension == "temperature":
        return f"degrees {unit.name.capitalize()}" if unit.name != "kelvin" else "kelvin"
    if value == 1:
        return unit.name
    irregular = {"foot": "feet", "inch": "inches"}
    first, _, rest = unit.name.partition(" per ")
    head = irregular.get(first, first if first.endswith("s") else first + "s")
    if " " in first and not rest:  # "fluid ounce" -> "fluid ounces"
        head = first + "s"
    return head + (f" per {rest}" if rest else "")


# --------------------------------------------------------------------------------------------
# Timers and alarms
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Notes
# --------------------------------------------------------------------------------------------

class NotesStore:
    """Notes in one SQLite file; a connection per call keeps it safe from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY "
                       "AUTOINCREMENT, text TEXT NOT NULL, created REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def add(self, text: str) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO notes (text, created) VALUES (?, ?)",
                             (text, time.time()))
            return int(cur.lastrowid or 0)

    def list(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT text FROM notes ORDER BY id")]

    def delete(self, number: int) -> str | None:
        """Delete the note at 1-based ``number`` in list order (-1: the last one)."""
        with self._connect() as db:
            rows = list(db.execute("SELECT id, text FROM notes ORDER BY id"))
            index = len(rows) - 1 if number == -1 else number - 1
            if not 0 <= index < len(rows):
                return None
            db.execute("DELETE FROM notes WHERE id = ?", (rows[index][0],))
            return rows[index][1]


# --------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------

_WMO = {0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast", 45: "fog",
        48: "freezing fog", 51: "light drizzle", 53: "drizzle", 55: "heavy drizzle",
        61: "light rain", 63: "rain", 65: "heavy rain", 66: "freezing rain",
        67: "heavy freezing rain", 71: "light snow", 73: "snow", 75: "heavy snow",
        77: "snow grains", 80: "rain showers", 81: "heavy rain showers",
        82: "violent rain showers", 85: "snow showers", 86: "heavy snow showers",
        95: "thunderstorms", 96: "thunderstorms with hail", 99: "thunderstorms with hail"}


class WeatherClient:
    """open-meteo style: geocode a place name, then fetch the current conditions."""

    def __init__(self, weather_url: str, geocode_url: str, timeout_s: float = 5.0) -> None:
        self.weather_url = weather_url
        self.geocode_url = geocode_url
        self.timeout_s = timeout_s

    async def report(self, location: str) -> str:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                geo = await http.get(self.geocode_url,
                                     params={"name": location, "count": 1, "language": "en"})
                geo.raise_for_status()
                places = geo.json().get("results") or []
                if not places:
                    return f"I couldn't find a place called {location}."
                place = places[0]
                resp = await http.get(self.weather_url, params={
                    "latitude": place["latitude"], "longitude": place["longitude"],
                    "current": "temperature_2m,weather_code,wind_speed_10m",
                    "daily": "temperature_2m_max,temperature_2m_min,"
                             "precipitation_probability_max",
                    "timezone": "auto", "forecast_days": 1})
                resp.raise_for_status()
                data = resp.json()
        except (httpx.HTTPError, ValueError, KeyError):
            return WEATHER_OFFLINE
        try:
            cur = data["current"]
            daily = data.get("daily") or {}
            sky = _WMO.get(int(cur.get("weather_code", -1)), "unsettled weather")
            text = (f"In {place.get('name', location)} it's {round(cur['temperature_2m'])} "
                    f"degrees with {sky}")
            if daily.get("temperature_2m_max"):
                text += (f"; today's high is {round(daily['temperature_2m_max'][0])} "
                         f"and the low {round(daily['temperature_2m_min'][0])}")
            rain = (daily.get("precipitation_probability_max") or [None])[0]
            if rain is not None:
                text += f", with a {round(rain)} percent chance of rain"
            return text + "."
        except (KeyError, TypeError, ValueError, IndexError):
            return "The weather service sent a reply I couldn't read."


# --------------------------------------------------------------------------------------------
# The tools
# --------------------------------------------------------------------------------------------

def default_notes_path(config: "Config | None") -> Path:
    from localvox.config import xdg_dir

    if config is not None and config.agent.notes_db:
        return Path(config.agent.notes_db).expanduser()
    return xdg_dir("data") / "notes.sqlite3"


class BuiltinTools:
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
        self._now = now or (lambda: dt.datetime.now().astimezone())

    # -- time and date ---------------------------------------------------------------------
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

    # -- timers ----------------------------------------------------------------------------
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
        from localvox.agent.intent import parse_clock

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

    # -- calculator and units --------------------------------------------------------------
    @function_tool
    def calculate(self, expression: str) -> str:
        """Calculate an arithmetic expression, e.g. "12 * 7", "sqrt(144)", "15/100*80".

        Args:
            expression: The arithmetic to evaluate, digits and + - * / ** ( ) sqrt.
        """
        expr = expression
        try:
            value = safe_calculate(expr)
        except CalculationError:
            from localvox.agent.intent import parse_expression

            spoken = parse_expression(expression)  # "twelve times seven" from a model
            if spoken is None:
                raise
            expr = spoken
            value = safe_calculate(expr)
        return f"{speak_expression(expr).capitalize()} is {format_number(value)}."

    @function_tool
    def convert_units(self, value: float, from_unit: str, to_unit: str) -> str:
        """Convert a quantity between units of length, mass, temperature, volume, speed or
        time.

        Args:
            value: The amount to convert.
            from_unit: Unit of the amount, e.g. "mile", "pound", "celsius".
            to_unit: Unit to convert to, e.g. "kilometer", "gram", "fahrenheit".
        """
        result, src, dst = convert(value, from_unit, to_unit)
        return (f"{format_number(value)} {_plural(src, value)} is "
                f"{format_number(round(result, 6))} {_plural(dst, round(result, 6))}.")

    # -- notes -----------------------------------------------------------------------------
    @function_tool
    def add_note(self, text: str) -> str:
        """Save a note to remember for later.

        Args:
            text: What to write down.
        """
        text = text.strip()
        if not text:
            raise ValueError("the note is empty")
        self.notes.add(text)
        return f"Noted: {text}."

    @function_tool
    def list_notes(self) -> str:
        """Read back all saved notes."""
        notes = self.notes.list()
        if not notes:
            return "You have no notes."
        listed = "; ".join(f"{i}: {n}" for i, n in enumerate(notes, 1))
        return f"You have {len(notes)} note{'s' if len(notes) != 1 else ''}. {listed}."

    @function_tool
    def delete_note(self, number: int) -> str:
        """Delete one saved note by its number in the list (1 is the first, -1 the last).

        Args:
            number: The note's position in the list.
        """
        removed = self.notes.delete(number)
        if removed is None:
            count = len(self.notes.list())
            return f"There is no note number {number}; you have {count}."
        return f"Deleted the note: {removed}."

    # -- weather ---------------------------------------------------------------------------
    @function_tool
    async def get_weather(self, location: str = "") -> str:
        """Get the current weather and today's forecast for a place.

        Args:
            location: City name, e.g. "Paris".
        """
        if not location.strip():
            return "Which place? For example, say: what's the weather in Paris."
        return await self.weather.report(location.strip())
