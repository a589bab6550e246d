"""Unit conversion tool: length, mass, volume, speed, time and temperature.

Each unit is a factor to its dimension's base unit, so one table serves every pair;
temperature goes through kelvin because it has an offset. ``unit_aliases`` is also what
the intent router's conversion parser matches spoken unit names against.
"""

from __future__ import annotations

from dataclasses import dataclass

from localvox.agent.builtin.calculator import format_number
from localvox.agent.tools import function_tool

__all__ = ["Unit", "UNITS", "unit_aliases", "find_unit", "convert", "UnitTools"]


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


class UnitTools:
    """The ``convert_units`` tool (stateless; mixed into :class:`BuiltinTools`)."""

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
