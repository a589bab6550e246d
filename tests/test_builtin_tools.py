"""Built-in tools: calculator safety, units, timers firing, notes persistence, weather."""

from __future__ import annotations

import asyncio
import socket

import pytest

from localvox.agent.builtin_tools import (WEATHER_OFFLINE, BuiltinTools, CalculationError,
                                          safe_calculate)
from localvox.agent.tools import ToolRegistry
from localvox.config import load_config
from localvox.llm.base import ToolCall


@pytest.fixture
def tools(tmp_path):
    return BuiltinTools(notes_path=tmp_path / "notes.sqlite3")


@pytest.mark.parametrize("expr,value", [("12*7", 84), ("(15/100)*80", 12), ("sqrt(144)", 12),
                                        ("2**10", 1024), ("2^3", 8), ("-3+4*2", 5)])
def test_calculator(expr, value):
    assert safe_calculate(expr) == pytest.approx(value)


@pytest.mark.parametrize("expr,why", [
    ("__import__('os').system('true')", "that function"), ("(1).__class__", "attribute"),
    ("x + 1", "names"), ("[1][0]", "indexing"), ("'a' * 3", "Constant"),
    ("lambda: 1", "lambdas"), ("9**9**9", "too large")])
def test_calculator_refuses_anything_but_arithmetic(expr, why):
    with pytest.raises(CalculationError) as err:
        safe_calculate(expr)
    assert why in str(err.value)


def test_calculator_does_not_use_eval():
    import inspect

    import localvox.agent.builtin.calculator as mod
    source = inspect.getsource(mod)
    assert "eval(" not in source.replace("_eval(", "").replace("literal_eval(", "")


async def test_division_by_zero_is_a_clear_error_result(tools):
    registry = ToolRegistry()
    registry.discover(tools)
    [result] = await registry.execute([ToolCall("c1", "calculate", '{"expression": "5/0"}')])
    assert result.is_error and "can't divide by zero" in result.content


async def test_malformed_tool_json_becomes_an_error_result(tools):
    registry = ToolRegistry()
    registry.discover(tools)
    [result] = await registry.execute([ToolCall("c1", "set_timer", '{"seconds": 5')])
    assert result.is_error and result.tool_call_id == "c1"


def test_calculator_tool_reads_words_from_a_model(tools):
    assert tools.calculate("twelve times seven") == "12 times 7 is 84."


@pytest.mark.parametrize("args,expected", [
    ((10, "miles", "km"), "10 miles is 16.093 kilometers."),
    ((100, "fahrenheit", "celsius"), "100 degrees Fahrenheit is 37.778 degrees Celsius."),
    ((2, "liters", "cups"), "2 liters is 8.454 cups."),
    ((60, "mph", "km/h"), "60 miles per hour is 96.561 kilometers per hour."),
    ((3, "hours", "minutes"), "3 hours is 180 minutes."),
    ((1, "kg", "oz"), "1 kilogram is 35.274 ounces.")])
def test_unit_conversion(tools, args, expected):
    assert tools.convert_units(*args) == expected


def test_unit_conversion_refuses_mixed_dimensions(tools):
    with pytest.raises(ValueError, match="can't convert"):
        tools.convert_units(1, "kg", "meter")


async def test_timer_fires_and_is_queued(tools):
    said = await tools.set_timer(0.2, "tea")
    assert said.endswith("for tea.")
    assert "tea" in await tools.list_timers()
    reminder = await asyncio.wait_for(tools.timers.due.get(), timeout=5)
    assert reminder.message == "Your tea timer is done."
    assert await tools.list_timers() == "You have no timers or alarms running."


async def test_timer_message_names_the_duration(tools):
    assert await tools.set_timer(300) == "Timer set for 5 minutes."
    assert tools.timers.pending()[0].message == "Your 5 minute timer is done."
    assert await tools.cancel_timers() == "Cancelled 1 timer."
    assert tools.timers.pending() == []


async def test_alarm_is_scheduled_for_the_next_occurrence(tools):
    said = await tools.set_alarm("07:30")
    assert said.startswith("Alarm set for 7:30 AM")
    due = tools.timers.pending()[0].due
    import time
    assert 0 < due - time.time() <= 86400


def test_notes_persist_across_sessions(tmp_path):
    path = tmp_path / "notes.sqlite3"
    first = BuiltinTools(notes_path=path)
    first.add_note("buy milk")
    first.add_note("call mom")
    second = BuiltinTools(notes_path=path)  # a new session (new process would be the same)
    assert second.list_notes() == "You have 2 notes. 1: buy milk; 2: call mom."
    assert second.delete_note(1) == "Deleted the note: buy milk."
    assert BuiltinTools(notes_path=path).list_notes() == "You have 1 note. 1: call mom."
    assert "no note number 5" in second.delete_note(5)


def test_notes_path_from_config(tmp_path):
    config = load_config(use_user_file=False)
    config.agent.notes_db = str(tmp_path / "sub" / "my.db")
    BuiltinTools(config).add_note("x")
    assert (tmp_path / "sub" / "my.db").is_file()


async def test_weather_offline_says_so(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    config = load_config(use_user_file=False)
    config.agent.weather_url = f"http://127.0.0.1:{port}/v1/forecast"
    config.agent.geocode_url = f"http://127.0.0.1:{port}/v1/search"
    tools = BuiltinTools(config, notes_path=tmp_path / "n.sqlite3")
    assert await tools.get_weather("Paris") == WEATHER_OFFLINE
