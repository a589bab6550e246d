"""function_tool schemas and ToolRegistry execution: every failure is a readable result."""

from __future__ import annotations

import asyncio
import enum
import json
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localvox.agent.events import EndCall, ToolCallEnd, ToolCallError, ToolCallStart
from localvox.agent.tools import (RunContext, ToolArgumentError, ToolRegistry, ToolResult,
                                  function_tool, get_tool_info, parse_docstring,
                                  validate_arguments)
from localvox.llm.base import ToolCall


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclass
class Described:
    description: str


def params(fn) -> dict:
    return get_tool_info(fn).parameters


# -- schema generation --------------------------------------------------------------------

def test_decorator_forms_and_overrides():
    @function_tool
    def a(x: int) -> int:
        """Plain."""
        return x

    @function_tool()
    def b(x: int) -> int:
        """Called."""
        return x

    @function_tool(name="renamed", description="Custom text.", timeout_s=2.5)
    def c(x: int) -> int:
        """Ignored."""
        return x

    assert get_tool_info(a).name == "a" and get_tool_info(a).description == "Plain."
    assert get_tool_info(b).description == "Called."
    info = get_tool_info(c)
    assert (info.name, info.description, info.timeout_s) == ("renamed", "Custom text.", 2.5)
    assert a(3) == 3  # the function itself is returned, unwrapped


def test_required_iff_no_default_and_type_mapping():
    @function_tool
    def f(s: str, i: int, x: float, flag: bool, opt: int = 3) -> None:
        """Doc."""

    p = params(f)
    assert p["required"] == ["s", "i", "x", "flag"]
    types = {k: v["type"] for k, v in p["properties"].items()}
    assert types == {"s": "string", "i": "integer", "x": "number", "flag": "boolean",
                     "opt": "integer"}
    assert p["properties"]["opt"]["default"] == 3


def test_optional_literal_enum_list_dict_annotated():
    @function_tool
    def f(maybe: Optional[int], mode: Literal["fast", "slow"], unit: Unit, nums: list[float],
          bag: dict, n: Annotated[int, "How many."], m: Annotated[str, Described("From obj.")],
          either: int | str = 1, opt2: str | None = None) -> None:
        """Doc."""

    props = params(f)["properties"]
    assert props["maybe"]["type"] == "integer"
    assert "maybe" in params(f)["required"]  # Optional without a default is still required
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"], "description": ""}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"] and props["unit"]["type"] == "string"
    assert props["nums"]["type"] == "array" and props["nums"]["items"] == {"type": "number"}
    assert props["bag"]["type"] == "object"
    assert props["n"] == {"type": "integer", "description": "How many."}
    assert props["m"]["description"] == "From obj."
    assert props["either"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert props["opt2"]["type"] == "string" and "opt2" not in params(f)["required"]


def test_google_docstring_args_and_sections():
    @function_tool
    def verify(self, name: str = "", dob: str = "", city: str = "") -> str:
        """Verify customer identity.

        Level 1 needs two factors.

        Args:
            name: Customer's full name,
                as on the card.
            dob (str): Date of birth (YYYY-MM-DD)
            city: City from address
        Returns:
            A status line.
        """
        return ""

    info = get_tool_info(verify)
    assert info.description == "Verify customer identity. Level 1 needs two factors."
    props = info.parameters["properties"]
    assert list(props) == ["name", "dob", "city"]  # self skipped
    assert props["name"]["description"] == "Customer's full name, as on the card."
    assert props["dob"]["description"] == "Date of birth (YYYY-MM-DD)"
    assert props["city"]["description"] == "City from address"  # Returns: not appended
    assert info.parameters["required"] == []


def test_parse_docstring_without_args():
    assert parse_docstring("One line.") == ("One line.", {})


def test_annotated_overrides_docstring():
    @function_tool
    def f(x: Annotated[int, "From Annotated."]) -> None:
        """Doc.

        Args:
            x: From docstring.
        """

    assert params(f)["properties"]["x"]["description"] == "From Annotated."


def test_run_context_and_context_params_are_skipped():
    @function_tool
    def f(ctx: RunContext, city: str) -> None:
        """Doc."""

    @function_tool
    def g(city: str, context=None) -> None:
        """Doc."""

    assert list(params(f)["properties"]) == ["city"]
    assert get_tool_info(f).context_param == "ctx"
    assert list(params(g)["properties"]) == ["city"]


def test_unsupported_type_fails_at_definition():
    class Thing:
        pass

    with pytest.raises(TypeError, match="parameter 'x'.*unsupported type"):
        @function_tool
        def f(x: Thing) -> None:
            """Doc."""


def test_get_schemas_openai_shape():
    reg = ToolRegistry()

    @reg.register
    @function_tool
    def get_time(tz: str = "UTC") -> str:
        """Current time."""
        return "10:00"

    assert reg.get_schemas() == [{"type": "function", "function": {
        "name": "get_time", "description": "Current time.",
        "parameters": {"type": "object", "required": [], "properties": {
            "tz": {"type": "string", "description": "", "default": "UTC"}}}}}]


# -- discovery ----------------------------------------------------------------------------

class Bank:
    def __init__(self) -> None:
        self.verified = False

    @function_tool()
    def verify(self, name: str) -> str:
        """Verify.

        Args:
            name: Name.
        """
        self.verified = True
        return f"verified {name}"

    @function_tool
    async def balance(self) -> dict:
        """Balance."""
        return {"balance": 10, "verified": self.verified}

    def not_a_tool(self) -> None:
        pass


class SubBank(Bank):
    @function_tool
    def verify(self, name: str) -> str:
        """Override."""
        return "sub"


async def test_discover_binds_methods_and_runs_them():
    bank = Bank()
    reg = ToolRegistry()
    assert sorted(reg.discover(bank)) == ["balance", "verify"]
    results = await reg.execute([ToolCall("1", "verify", '{"name": "Ana"}'),
                                 ToolCall("2", "balance", "{}")], parallel=False)
    assert results[0].content == "verified Ana"
    assert json.loads(results[1].content) == {"balance": 10, "verified": True}
    assert bank.verified


async def test_discover_takes_the_subclass_override():
    reg = ToolRegistry()
    reg.discover(SubBank())
    [result] = await reg.execute([ToolCall("1", "verify", '{"name": "x"}')])
    assert result.content == "sub"


def test_duplicate_name_is_an_error_but_reregistering_is_fine():
    reg = ToolRegistry()

    @function_tool(name="t")
    def one() -> None:
        """One."""

    @function_tool(name="t")
    def two() -> None:
        """Two."""

    reg.register(one)
    reg.register(one)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(two)


# -- execution ----------------------------------------------------------------------------

@function_tool
async def slow_echo(text: str, delay: float = 0.0) -> str:
    """Echo after a delay."""
    await asyncio.sleep(delay)
    return text


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@function_tool
def blocking(seconds: float) -> str:
    """Sleep in a thread."""
    # Deliberately blocking: the test proves the registry runs sync tools off the event loop.
    time.sleep(seconds)
    return threading.current_thread().name


@function_tool
def explode() -> str:
    """Always fails."""
    raise ValueError("Only SELECT queries allowed")


@function_tool
def pick(unit: Unit, flag: bool = False, items: list[int] | None = None) -> str:
    """Typed."""
    assert isinstance(unit, Unit)
    return f"{unit.name} {flag} {items}"


@function_tool(timeout_s=0.05)
async def hangs() -> str:
    """Never returns in time."""
    await asyncio.sleep(10)
    return "late"


def registry(**kw) -> ToolRegistry:
    reg = ToolRegistry(**kw)
    for fn in (slow_echo, add, blocking, explode, pick, hangs):
        reg.register(fn)
    return reg


async def test_parallel_results_in_input_order_with_ids():
    reg = registry()
    calls = [ToolCall("c-slow", "slow_echo", '{"text": "first", "delay": 0.15}'),
             ToolCall("c-fast", "slow_echo", '{"text": "second"}'),
             ToolCall("c-mid", "slow_echo", '{"text": "third", "delay": 0.05}')]
    started = time.perf_counter()
    results = await reg.execute(calls, parallel=True)
    elapsed = time.perf_counter() - started
    assert [r.tool_call_id for r in results] == ["c-slow", "c-fast", "c-mid"]
    assert [r.content for r in results] == ["first", "second", "third"]
    assert not any(r.is_error for r in results)
    assert elapsed < 0.3  # ran concurrently (sequential would be >= 0.2 s + overhead)


async def test_sequential_mode_runs_in_order():
    reg = registry()
    order = []
    reg.emit = lambda e: _append(order, e)
    await reg.execute([ToolCall("a", "slow_echo", '{"text": "1", "delay": 0.05}'),
                       ToolCall("b", "slow_echo", '{"text": "2"}')], parallel=False)
    assert [(type(e).__name__, e.call_id) for e in order] == [
        ("ToolCallStart", "a"), ("ToolCallEnd", "a"), ("ToolCallStart", "b"), ("ToolCallEnd", "b")]


async def _append(bucket, event):
    bucket.append(event)


async def test_sync_tools_run_in_a_thread():
    reg = registry()
    [result] = await reg.execute([ToolCall("t", "blocking", '{"seconds": 0}')])
    assert result.content != threading.current_thread().name


@pytest.mark.parametrize("call, expected", [
    (ToolCall("u1", "nope", "{}"), "unknown tool 'nope'; available tools: slow_echo, add"),
    (ToolCall("j1", "add", '{"a": 1, "b": '), "not valid JSON"),
    (ToolCall("j2", "add", ""), "arguments were empty"),
    (ToolCall("j3", "add", "[1, 2]"), "arguments must be a JSON object"),
    (ToolCall("m1", "add", '{"a": 1}'), "missing required argument 'b'"),
    (ToolCall("w1", "add", '{"a": 1, "b": "five"}'), "'b' must be an integer, got \"five\""),
    (ToolCall("w2", "add", '{"a": 1, "b": 2.5}'), "'b' must be an integer"),
    (ToolCall("w3", "pick", '{"unit": "kelvin"}'), "'unit' must be one of"),
    (ToolCall("w4", "pick", '{"unit": "celsius", "flag": 1}'), "'flag' must be true or false"),
    (ToolCall("w5", "pick", '{"unit": "celsius", "items": [1, "x"]}'),
     "'items'[1] must be an integer"),
    (ToolCall("r1", "explode", "{}"), "explode failed: Only SELECT queries allowed"),
    (ToolCall("t1", "hangs", "{}"), "hangs timed out after 0.05 s"),
])
async def test_failures_become_error_results(call: ToolCall, expected: str):
    reg = registry()
    events: list = []
    reg.emit = lambda e: _append(events, e)
    [result] = await reg.execute([call])
    assert isinstance(result, ToolResult)
    assert result.is_error
    assert result.tool_call_id == call.id and result.name == call.name
    assert result.content.startswith("Error: ")
    assert expected in result.content
    assert [type(e) for e in events] == [ToolCallStart, ToolCallError]
    assert events[1].call_id == call.id and expected in events[1].error
    assert result.to_message() == {"role": "tool", "tool_call_id": call.id, "name": call.name,
                                   "content": result.content}


async def test_one_failure_does_not_spoil_the_batch():
    reg = registry()
    results = await reg.execute([ToolCall("a", "add", '{"a": 2, "b": 3}'),
                                 ToolCall("b", "explode", "{}"),
                                 ToolCall("c", "nope", "{}")])
    assert [(r.tool_call_id, r.is_error) for r in results] == [("a", False), ("b", True),
                                                               ("c", True)]
    assert results[0].content == "5"


async def test_unambiguous_coercions():
    reg = registry()
    results = await reg.execute([
        ToolCall("1", "add", '{"a": "5", "b": 2.0}'),
        ToolCall("2", "pick", '{"unit": "Celsius", "flag": "TRUE", "items": ["3"]}'),
        ToolCall("3", "slow_echo", '{"text": 1234}'),
        ToolCall("4", "pick", '{"unit": "fahrenheit", "items": null, "extra": 1}'),
    ])
    assert [r.content for r in results] == ["7", "CELSIUS True [3]", "1234",
                                            "FAHRENHEIT False None"]


async def test_timeout_uses_registry_default():
    reg = ToolRegistry(timeout_s=0.05)
    reg.register(slow_echo)
    [result] = await reg.execute([ToolCall("x", "slow_echo", '{"text": "a", "delay": 5}')])
    assert result.is_error and "timed out after 0.05 s" in result.content


async def test_emit_events_carry_latency():
    reg = registry()
    events: list = []
    reg.emit = lambda e: _append(events, e)
    await reg.execute([ToolCall("q", "slow_echo", '{"text": "hi", "delay": 0.02}')])
    start, end = events
    assert isinstance(start, ToolCallStart) and start.arguments == '{"text": "hi", "delay": 0.02}'
    assert isinstance(end, ToolCallEnd) and end.result == "hi" and end.latency_ms >= 15


async def test_broken_emitter_does_not_break_the_call():
    async def broken(event):
        raise RuntimeError("telemetry down")

    reg = registry(emit=broken)
    [result] = await reg.execute([ToolCall("1", "add", '{"a": 1, "b": 1}')])
    assert result.content == "2" and not result.is_error


async def test_cancellation_propagates():
    reg = registry()
    task = asyncio.create_task(reg.execute([ToolCall("1", "slow_echo",
                                                     '{"text": "x", "delay": 5}')]))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_return_values_are_rendered_for_the_model():
    @function_tool
    def nothing() -> None:
        """Nothing."""

    @function_tool
    def listing() -> list:
        """List."""
        return [1, "two"]

    reg = ToolRegistry()
    reg.register(nothing)
    reg.register(listing)
    results = await reg.execute([ToolCall("1", "nothing", ""), ToolCall("2", "listing", "{}")])
    assert [r.content for r in results] == ["done", '[1, "two"]']


async def test_run_context_is_injected():
    @function_tool
    def whoami(ctx: RunContext) -> str:
        """Who."""
        return f"{ctx.call.id} {ctx.state.get('level')}"

    class FakeSession:
        state = {"level": 2}

    reg = ToolRegistry()
    reg.register(whoami)
    [result] = await reg.execute([ToolCall("id-9", "whoami", "{}")],
                                 context=RunContext(session=FakeSession()))
    assert result.content == "id-9 2"


async def test_returned_handoff_event_is_emitted():
    @function_tool
    def hang_up() -> EndCall:
        """End the call."""
        return EndCall(reason="bye")

    sent: list = []
    reg = ToolRegistry(emit=lambda e: _append(sent, e))
    reg.register(hang_up)
    [result] = await reg.execute([ToolCall("h", "hang_up", "")])
    assert json.loads(result.content) == {"status": "success", "action": "end_call"}
    assert any(isinstance(e, EndCall) and e.reason == "bye" for e in sent)

    silent = ToolRegistry()
    silent.register(hang_up)
    [result] = await silent.execute([ToolCall("h", "hang_up", "")])
    assert result.is_error and "nothing is listening" in result.content


# -- fuzzing the argument validator -------------------------------------------------------

@function_tool
def typed(n: int, x: float, s: str, b: bool, u: Unit, tags: list[str],
          mode: Literal["a", "b"] = "a", opt: int | None = None) -> None:
    """Everything."""


TYPED = get_tool_info(typed)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8)
arg_dicts = st.dictionaries(st.sampled_from(["n", "x", "s", "b", "u", "tags", "mode", "opt",
                                             "zzz"]), json_values, max_size=9)


@settings(max_examples=200, deadline=None)
@given(st.one_of(arg_dicts, json_values))
def test_fuzz_validation_returns_typed_kwargs_or_a_clear_error(arguments):
    try:
        kwargs = validate_arguments(TYPED, arguments)
    except ToolArgumentError as exc:
        assert str(exc)
        return
    assert isinstance(kwargs["n"], int) and not isinstance(kwargs["n"], bool)
    assert isinstance(kwargs["x"], (int, float)) and not isinstance(kwargs["x"], bool)
    assert isinstance(kwargs["s"], str)
    assert isinstance(kwargs["b"], bool)
    assert isinstance(kwargs["u"], Unit)
    assert all(isinstance(t, str) for t in kwargs["tags"])
    assert kwargs.get("mode", "a") in ("a", "b")
    assert kwargs.get("opt") is None or type(kwargs["opt"]) is int
    assert "zzz" not in kwargs


@settings(max_examples=150, deadline=None)
@given(n=st.integers(), x=st.floats(allow_nan=False, allow_infinity=False), s=st.text(),
       b=st.booleans(), u=st.sampled_from(Unit), tags=st.lists(st.text(), max_size=3))
def test_fuzz_valid_arguments_pass_unchanged(n, x, s, b, u, tags):
    kwargs = validate_arguments(TYPED, {"n": n, "x": x, "s": s, "b": b, "u": u.value,
                                        "tags": tags})
    assert kwargs == {"n": n, "x": x, "s": s, "b": b, "u": u, "tags": tags}


def test_fuzz_arbitrary_argument_text_is_an_error_result_or_a_call():
    reg = registry()

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=30) | json_values.map(json.dumps))
    def check(text):
        [result] = asyncio.run(reg.execute([ToolCall("f", "add", text)]))
        assert result.tool_call_id == "f"
        if not result.is_error:  # only a JSON object with two integral a and b gets through
            data = json.loads(text)
            assert int(result.content) == _as_int(data["a"]) + _as_int(data["b"])
        else:
            assert result.content.startswith("Error: bad arguments for add")

    check()


def _as_int(value) -> int:
    return int(value.strip()) if isinstance(value, str) else int(value)
