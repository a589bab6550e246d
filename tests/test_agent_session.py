"""Session, nodes and the tool loop, driven by a scripted LLM (no model needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from localvox.agent import (App, BackgroundAgentNode, EndCall, ErrorEvent, Event, Interrupt,
                            LLMRequest, Node, OutputAgentNode, Ready, ResponseChunk, ResponseEnd,
                            Session, SessionClosedError, Speak, ToolCallEnd, ToolCallError,
                            ToolRegistry, TranscriptUpdate, TransferCall, TransferOption,
                            TransferType, UserJoined, function_tool)
from localvox.errors import LLMError
from localvox.llm.base import ChatChunk, ToolCall

class ScriptedLLM:
    """Replies with the next scripted list of chunks; records what it was asked."""

    name = "scripted"

    def __init__(self, *replies: Sequence[ChatChunk], delay_s: float = 0.0) -> None:
        self.replies = [list(r) for r in replies]
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []

    async def chat(self, messages, tools=None, *, stream=True, **overrides
                   ) -> AsyncIterator[ChatChunk]:
        self.requests.append({"messages": messages, "tools": tools})
        if not self.replies:
            raise AssertionError("the scripted LLM ran out of replies")
        for chunk in self.replies.pop(0):
            await asyncio.sleep(self.delay_s)
            yield chunk

    async def close(self) -> None:
        pass


class ToolAgent(OutputAgentNode):
    """An output node running the SDK's tool loop over a registry."""

    def __init__(self, llm, tools: ToolRegistry | None = None, **loop_kw) -> None:
        super().__init__("tool-agent")
        self.llm = llm
        self.tools = tools or ToolRegistry()
        self.loop_kw = loop_kw
        self.context.add_message({"role": "system", "content": "Be brief."})

    async def generate_response(self):
        async for text in self.run_llm_with_tools(self.llm, self.tools, **self.loop_kw):
            yield text


async def started(*nodes, edges=()) -> Session:
    session = Session()
    for node in nodes:
        session.add_node(node)
    for parent, child in edges:
        session.add_edge(parent, child)
    await session.start()
    return session


async def collect(agen) -> list[Event]:
    return [event async for event in agen]


def types_of(events) -> list[str]:
    return [e.type for e in events]


# -- graph and lifecycle ------------------------------------------------------------------

class Echo(OutputAgentNode):
    """Replies with the last user message, in two chunks."""

    def __init__(self, name: str = "echo") -> None:
        super().__init__(name)

    async def generate_response(self):
        last = self.context.last("user")
        yield "you said: "
        yield last["content"] if last else "nothing"


class Recorder(BackgroundAgentNode):
    def __init__(self, name: str = "recorder") -> None:
        super().__init__(name)
        self.seen: list[Event] = []

    async def process_event(self, event: Event) -> None:
        self.seen.append(event)


async def test_turn_streams_a_reply_and_records_context():
    echo = Echo()
    session = await started(echo)
    events = await collect(session.turn("hello"))
    assert types_of(events) == [
        "agent.transcript.update", "system.llm.request", "agent.llm.response.start",
        "agent.llm.response.chunk", "agent.llm.response.chunk", "agent.transcript.update",
        "agent.llm.response.end"]
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "you said: hello"
    request_ids = {e.request_id for e in events if hasattr(e, "request_id")}
    assert len(request_ids) == 1 and "" not in request_ids
    assert events[-2] == TranscriptUpdate(role="assistant", content="you said: hello",
                                          timestamp=events[-2].timestamp)
    assert echo.context.messages == [{"role": "user", "content": "hello"},
                                     {"role": "assistant", "content": "you said: hello"}]
    assert len({id(e) for e in events}) == len(events)  # nothing reaches the sink twice
    await session.close()


async def test_ready_is_emitted_before_nodes_start():
    class Greeter(Echo):
        async def on_start(self) -> None:
            await self.speak("Hi there.")

    session = Session()
    session.add_node(Greeter())
    stream = session.events()
    await session.start()
    first = await asyncio.wait_for(stream.__anext__(), 1)
    second = await asyncio.wait_for(stream.__anext__(), 1)
    assert isinstance(first, Ready)
    assert isinstance(second, Speak) and second.text == "Hi there."
    await session.close()


async def test_user_joined_greeting_through_on_event_hook():
    class Greeter(Echo):
        async def on_event(self, event: Event) -> None:
            if isinstance(event, UserJoined):
                await self.speak("Welcome!", record=True)

    greeter = Greeter()
    session = await started(greeter)
    stream = session.events()
    await session.send(UserJoined())
    got = [await asyncio.wait_for(stream.__anext__(), 1) for _ in range(2)]
    assert [type(e) for e in got] == [UserJoined, Speak]
    assert greeter.context.messages == [{"role": "assistant", "content": "Welcome!"}]
    await session.close()


async def test_cycle_is_rejected_at_start():
    a, b, c = Node("a"), Node("b"), Node("c")
    session = Session()
    session.add_edge(a, b)
    session.add_edge(b, c)
    session.add_edge(c, a)
    with pytest.raises(ValueError, match="cycle: a -> b -> c -> a"):
        await session.start()


async def test_parentless_nodes_hang_off_root_and_leaves_feed_sink():
    upper = Node("first")
    echo = Echo()
    session = await started(upper, echo, edges=[(upper, echo)])
    assert upper.parents == [session._root] and echo.children == [session._sink]
    events = await collect(session.turn("chain"))
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "you said: chain"
    await session.close()


async def test_node_cannot_join_two_sessions():
    node = Echo()
    Session().add_node(node)
    with pytest.raises(ValueError, match="another session"):
        Session().add_node(node)


async def test_two_sessions_share_no_state():
    async def setup(session: Session) -> None:
        session.add_node(Echo())
        await session.start()
        await session.wait_until_complete()

    app = App(setup)
    one = await app.open_session(user="ana")
    two = await app.open_session(user="bo")
    one.state["level"] = 2
    seen_by_two: list[Event] = []
    two.on_event("*")(seen_by_two.append)
    await collect(one.turn("secret for one"))
    await collect(two.turn("hi from two"))
    await two.idle(2)
    assert two.state == {} and one.initial_variables == {"user": "ana"}
    assert two.initial_variables == {"user": "bo"}
    [agent_one], [agent_two] = one.nodes, two.nodes
    assert agent_one is not agent_two
    assert all("secret" not in json.dumps(m) for m in agent_two.context.messages)
    assert not any("secret" in e.to_json() for e in seen_by_two)
    assert app.sessions == {one, two}
    await app.close()
    assert one.closed and two.closed and app.sessions == set()


async def test_app_reports_setup_failures():
    async def broken(session: Session) -> None:
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        await App(broken).open_session()

    async def forgetful(session: Session) -> None:
        session.add_node(Echo())

    with pytest.raises(RuntimeError, match="without calling session.start"):
        await App(forgetful).open_session()


async def test_closed_session_refuses_input_and_ends_streams():
    session = await started(Echo())
    stream = session.events()
    waiter = asyncio.create_task(session.wait_until_complete())
    await session.close()
    await asyncio.wait_for(waiter, 1)
    assert session.ended and session.end_reason == "closed"
    assert [e async for e in stream] == []
    with pytest.raises(SessionClosedError):
        await session.send(UserJoined())
    assert await collect(session.turn("anyone?")) == []


# -- on_event handlers --------------------------------------------------------------------

async def test_on_event_handlers_fire_for_their_types():
    session = await started(Echo())
    transcripts, everything, pairs, both = [], [], [], []

    @session.on_event("agent.transcript.update")
    def on_transcript(event):
        transcripts.append((event.role, event.content))

    @session.on_event("*")
    async def on_any(event):
        everything.append(event.type)

    @session.on_event(UserJoined)
    async def atoms_style(sess, event):  # the Atoms (session, event) signature
        pairs.append((sess, event.type))

    session.on_event("agent.llm.response.start", "agent.llm.response.end")(
        lambda e: both.append(e.type))

    await session.send(UserJoined())
    await collect(session.turn("ping"))
    await session.idle(2)
    assert transcripts == [("user", "ping"), ("assistant", "you said: ping")]
    assert pairs == [(session, "system.user.joined")]
    assert both == ["agent.llm.response.start", "agent.llm.response.end"]
    assert everything.index("system.user.joined") < everything.index("agent.llm.response.start")
    assert everything.count("agent.llm.response.chunk") == 2
    await session.close()


async def test_on_event_rejects_unknown_names():
    session = Session()
    with pytest.raises(ValueError, match="unknown event type 'system.user_joined'"):
        session.on_event("system.user_joined")


async def test_failing_handler_does_not_stop_others():
    session = await started(Echo())
    calls = []

    @session.on_event("agent.llm.response.end")
    def bad(event):
        raise RuntimeError("handler bug")

    @session.on_event("agent.llm.response.end")
    def good(event):
        calls.append(event)

    await collect(session.turn("a"))
    await collect(session.turn("b"))
    await session.idle(2)
    assert len(calls) == 2
    await session.close()


# -- errors -------------------------------------------------------------------------------

class Exploding(BackgroundAgentNode):
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        super().__init__("exploding")
        self.gate = gate
        self.count = 0

    async def process_event(self, event: Event) -> None:
        self.count += 1
        if self.gate is not None:
            await self.gate.wait()
        raise RuntimeError(f"bad background node on {event.type}")


async def test_raising_background_observer_does_not_block_the_reply():
    bad = Exploding()
    echo = Echo()
    session = Session()
    session.add_node(bad)
    session.add_node(echo)
    errors: list[ErrorEvent] = []
    session.on_event("agent.error")(errors.append)
    await session.start()
    events = await collect(session.turn("still there?"))
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) \
        == "you said: still there?"
    await session.idle(2)
    assert errors and all(e.severity == "warning" for e in errors)
    assert errors[0].message == "RuntimeError in exploding.process_event: " \
        "bad background node on agent.ready"
    # it kept running, saw the agent's events too, and each failure was reported once
    assert bad.count >= len([e for e in events if not isinstance(e, ErrorEvent)])
    assert len(errors) == bad.count
    await collect(session.turn("again"))  # and the session goes on
    await session.close()


async def test_slow_background_observer_is_off_the_critical_path():
    gate = asyncio.Event()
    slow = Exploding(gate)  # blocks on its first event until the gate opens
    session = await started(slow, Echo())
    events = await asyncio.wait_for(collect(session.turn("quick")), 2)
    assert isinstance(events[-1], ResponseEnd)
    assert slow.count == 1  # still stuck on its first event while the reply completed
    gate.set()
    await session.idle(2)
    assert slow.count > 1
    await session.close()


async def test_raising_background_node_in_the_chain_still_forwards():
    bad = Exploding()
    echo = Echo()
    session = await started(bad, echo, edges=[(bad, echo)])
    events = await collect(session.turn("through the chain"))
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) \
        == "you said: through the chain"
    await session.close()


async def test_raising_plain_node_reports_and_still_forwards():
    class Broken(Node):
        async def process_event(self, event: Event) -> None:
            if isinstance(event, TranscriptUpdate):
                raise ValueError("cannot parse transcript")
            await self.send_event(event)

    broken = Broken("broken")
    echo = Echo()
    session = await started(broken, echo, edges=[(broken, echo)])
    events = await collect(session.turn("keep me"))
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and errors[0].severity == "fatal"
    assert errors[0].message == "ValueError in broken.process_event: cannot parse transcript"
    assert errors[0].payload["node"] == "broken"
    assert errors[0].payload["event_type"] == "agent.transcript.update"
    assert "Traceback" in errors[0].payload["traceback"]
    assert echo.context.messages[0] == {"role": "user", "content": "keep me"}
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "you said: keep me"
    await session.close()


async def test_generate_response_error_still_ends_the_response():
    class Flaky(OutputAgentNode):
        def __init__(self) -> None:
            super().__init__("flaky")
            self.calls = 0

        async def generate_response(self):
            self.calls += 1
            yield "partial "
            if self.calls == 1:
                raise LLMError("LLM server at 127.0.0.1:9 is not reachable; start it")
            yield "fine"

    session = await started(Flaky())
    events = await collect(session.turn("one"))
    assert types_of(events)[-3:] == ["agent.error", "agent.transcript.update",
                                     "agent.llm.response.end"]
    error = events[-3]
    assert error.message == "LLM server at 127.0.0.1:9 is not reachable; start it"
    assert error.severity == "warning"
    assert events[-1].interrupted is False
    events = await collect(session.turn("two"))
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "partial fine"
    await session.close()


# -- interruption -------------------------------------------------------------------------

class Stalling(OutputAgentNode):
    """Says a few words, then waits forever (until interrupted)."""

    def __init__(self) -> None:
        super().__init__("stalling")
        self.cleaned_up = False
        self.turns = 0

    async def generate_response(self):
        self.turns += 1
        if self.turns > 1:
            yield "second reply"
            return
        try:
            yield "It is ten "
            yield "past "
            await asyncio.Event().wait()
            yield "never"
        finally:
            self.cleaned_up = True


async def test_interrupt_mid_generation():
    node = Stalling()
    session = await started(node)
    seen: list[Event] = []
    async for event in session.turn("what time is it"):
        seen.append(event)
        if isinstance(event, ResponseChunk) and event.text == "past ":
            await session.interrupt()
    assert node.cleaned_up
    end = seen[-1]
    assert isinstance(end, ResponseEnd) and end.interrupted is True
    transcript = seen[-2]
    assert transcript == TranscriptUpdate(role="assistant", content="It is ten past ",
                                          interrupted=True, timestamp=transcript.timestamp)
    assert node.context.history[-1] == {"role": "assistant", "content": "It is ten past ",
                                        "interrupted": True}
    # the LLM sees the partial reply without the private marker
    assert node.context.messages[-1] == {"role": "assistant", "content": "It is ten past "}
    events = await collect(session.turn("and now?"))
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "second reply"
    assert events[-1].interrupted is False
    await session.close()


async def test_interrupt_reaches_the_sink_after_the_response_end():
    node = Stalling()
    session = await started(node)
    stream = session.events()
    turn = session.turn("hi")
    async for event in turn:
        if isinstance(event, ResponseChunk):
            break
    await turn.aclose()
    await session.interrupt()
    got = []
    while not got or not isinstance(got[-1], Interrupt):
        got.append(await asyncio.wait_for(stream.__anext__(), 1))
    assert isinstance(got[-2], ResponseEnd) and got[-2].interrupted
    await session.close()


async def test_interrupt_drops_stale_requests_but_keeps_transcripts():
    node = Stalling()
    node.interruptible = True
    session = await started(node)
    stream = session.events()
    await session.send(LLMRequest(request_id="first"))
    while not isinstance(await asyncio.wait_for(stream.__anext__(), 1), ResponseChunk):
        pass
    # queued behind the stalled reply: a transcript and a (soon stale) request
    await session.send(TranscriptUpdate(role="user", content="late words"))
    await session.send(LLMRequest(request_id="stale"))
    await session.interrupt()
    await session.idle(2)
    assert node.turns == 1  # the stale request was dropped
    assert node.context.messages[-1] == {"role": "user", "content": "late words"}
    await session.close()


async def test_non_interruptible_node_finishes_its_reply():
    class Steady(Echo):
        async def generate_response(self):
            yield "one "
            await asyncio.sleep(0.05)
            yield "two"

    node = Steady()
    node.interruptible = False
    session = await started(node)
    events = []
    async for event in session.turn("x"):
        events.append(event)
        if isinstance(event, ResponseChunk):
            await session.interrupt()
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "one two"
    assert events[-1].interrupted is False
    await session.close()


async def test_atoms_style_node_that_records_its_own_reply_is_not_duplicated():
    class AtomsStyle(OutputAgentNode):
        async def generate_response(self):
            full = ""
            for part in ("Hello ", "there."):
                full += part
                yield part
            self.context.add_message({"role": "assistant", "content": full})

    node = AtomsStyle("atoms")
    session = await started(node)
    await collect(session.turn("hi"))
    assert node.context.messages == [{"role": "user", "content": "hi"},
                                     {"role": "assistant", "content": "Hello there."}]
    await session.close()


# -- the tool loop ------------------------------------------------------------------------

def weather_registry(delay_s: float) -> ToolRegistry:
    reg = ToolRegistry()

    @reg.register
    @function_tool
    async def get_weather(city: str) -> str:
        """Get the current weather for a city.

        Args:
            city: The city name.
        """
        await asyncio.sleep(delay_s)
        return f"Sunny in {city}"

    return reg


def weather_llm() -> ScriptedLLM:
    return ScriptedLLM(
        [ChatChunk(tool_calls=[ToolCall("call_1", "get_weather", '{"city": "Paris"}')],
                   finish_reason="tool_calls")],
        [ChatChunk("It is sunny "), ChatChunk("in Paris.")])


async def test_tool_loop_records_calls_and_results_and_streams_follow_up():
    llm = weather_llm()
    agent = ToolAgent(llm, weather_registry(0.0), holding_after_ms=500)
    session = await started(agent)
    events = await collect(session.turn("Weather in Paris?"))
    text = "".join(e.text for e in events if isinstance(e, ResponseChunk))
    assert text == "It is sunny in Paris."
    kinds = types_of(events)
    assert kinds.index("agent.tool_call.start") < kinds.index("agent.tool_call.end") \
        < kinds.index("agent.llm.response.chunk")
    assert agent.context.messages[1:] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
         "content": "Sunny in Paris"},
        {"role": "assistant", "content": "It is sunny in Paris."}]
    assert llm.requests[0]["tools"][0]["function"]["name"] == "get_weather"
    assert llm.requests[1]["messages"][-1]["role"] == "tool"
    await session.close()


async def test_holding_phrase_only_when_tools_are_slow():
    fast = ToolAgent(weather_llm(), weather_registry(0.0), holding_after_ms=400,
                     holding_phrase="One moment.")
    session = await started(fast)
    text = "".join(e.text for e in await collect(session.turn("w?"))
                   if isinstance(e, ResponseChunk))
    assert text == "It is sunny in Paris."
    await session.close()

    slow = ToolAgent(weather_llm(), weather_registry(0.3), holding_after_ms=50,
                     holding_phrase="One moment.")
    session = await started(slow)
    events = await collect(session.turn("w?"))
    chunks = [e for e in events if isinstance(e, ResponseChunk)]
    assert [c.text for c in chunks] == ["One moment. ", "It is sunny ", "in Paris."]
    tool_end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert events.index(chunks[0]) < events.index(tool_end)  # said while the tool ran
    # heard by the user, but not recorded as model output
    assert slow.context.messages[-1] == {"role": "assistant", "content": "It is sunny in Paris."}
    assert events[-2].content == "One moment. It is sunny in Paris."
    await session.close()


async def test_tool_loop_stops_after_max_rounds():
    rome = ChatChunk(tool_calls=[ToolCall("", "get_weather", '{"city": "Rome"}')])
    oslo = ChatChunk(tool_calls=[ToolCall("", "get_weather", '{"city": "Oslo"}')])
    llm = ScriptedLLM([rome], [oslo], [ChatChunk("Done.")])
    agent = ToolAgent(llm, weather_registry(0.0), max_rounds=2)
    session = await started(agent)
    events = await collect(session.turn("loop"))
    assert [r["tools"] is not None for r in llm.requests] == [True, True, False]
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "Done."
    ids = [m["tool_call_id"] for m in agent.context.messages if m["role"] == "tool"]
    assert len(ids) == 2 and all(i.startswith("call_") for i in ids) and ids[0] != ids[1]
    # the last request, offered no tools after several rounds, tells the model to answer
    # (not recorded); after a single round it is the plain request
    assert llm.requests[-1]["messages"][-1]["content"].startswith("Answer the user now")
    assert all("Answer the user now" not in str(m.get("content"))
               for m in agent.context.messages)
    await session.close()


async def test_the_same_calls_again_go_straight_to_the_answer():
    """Measured with the 1.5B in the bank example: verify_customer with the same arguments
    three rounds running, then silence. The second identical round is not run again."""
    call = ChatChunk(tool_calls=[ToolCall("", "get_weather", '{"city": "Rome"}')])
    again = ChatChunk(tool_calls=[ToolCall("", "get_weather", '{ "city":"Rome" }')])
    llm = ScriptedLLM([call], [again], [ChatChunk("Sunny in Rome.")])
    agent = ToolAgent(llm, weather_registry(0.0), max_rounds=4)
    session = await started(agent)
    events = await collect(session.turn("weather in Rome?"))
    assert [r["tools"] is not None for r in llm.requests] == [True, True, False]
    assert len([m for m in agent.context.messages if m["role"] == "tool"]) == 1
    assert "".join(e.text for e in events if isinstance(e, ResponseChunk)) == "Sunny in Rome."
    await session.close()


async def test_bad_tool_arguments_reach_the_model_as_errors():
    llm = ScriptedLLM([ChatChunk(tool_calls=[ToolCall("c", "get_weather", '{"town": 1}')])],
                      [ChatChunk("Which city?")])
    agent = ToolAgent(llm, weather_registry(0.0))
    session = await started(agent)
    events = await collect(session.turn("weather"))
    tool_message = llm.requests[1]["messages"][-1]
    assert tool_message["tool_call_id"] == "c"
    assert "missing required argument 'city'" in tool_message["content"]
    assert any(isinstance(e, ToolCallError) for e in events)
    await session.close()


async def test_interrupt_during_tools_leaves_a_valid_context():
    llm = ScriptedLLM([ChatChunk(tool_calls=[ToolCall("c9", "get_weather", '{"city": "Oslo"}')])])
    agent = ToolAgent(llm, weather_registry(5.0), holding_after_ms=10)
    session = await started(agent)
    events = []
    async for event in session.turn("weather in Oslo"):
        events.append(event)
        if isinstance(event, ResponseChunk):  # the holding phrase: tools are running
            await session.interrupt()
    assert events[-1].interrupted
    messages = agent.context.messages
    assert messages[-2]["tool_calls"][0]["id"] == "c9"
    assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"] == "c9"
    assert "interrupted" in messages[-1]["content"]
    await session.close()


# -- handoffs -----------------------------------------------------------------------------

class Desk(ToolAgent):
    @function_tool
    async def end_call(self, reason: str = "") -> None:  # type: ignore[override]
        """End the call when the user says goodbye.

        Args:
            reason: Why the call ends.
        """
        await super().end_call(reason)

    @function_tool
    async def warm_transfer(self, reason: str) -> None:
        """Brief a supervisor, then connect the caller.

        Args:
            reason: Summary for the supervisor.
        """
        await self.send_event(TransferCall(
            number="+15550100",
            option=TransferOption(TransferType.WARM, handoff_prompt=f"Escalation: {reason}"),
            on_hold_music="uplifting_beats"))


async def test_end_call_tool_ends_the_session_and_latches():
    llm = ScriptedLLM([ChatChunk("Goodbye! "),
                       ChatChunk(tool_calls=[ToolCall("e1", "end_call", '{"reason": "bye"}')])])
    desk = Desk(llm)
    desk.tools.discover(desk)
    session = await started(desk)
    waiter = asyncio.create_task(session.wait_until_complete())
    events = await collect(session.turn("bye"))
    assert any(isinstance(e, EndCall) and e.reason == "bye" for e in events)
    assert isinstance(events[-1], ResponseEnd)
    await asyncio.wait_for(waiter, 1)
    assert session.ended and session.end_reason == "end_call"
    assert len(llm.requests) == 1  # no follow-up after the handoff
    assert desk.handoff_started
    assert await collect(session.turn("hello?")) == []
    # a platform request after the latch gets an empty reply, not silence forever
    stream = session.events()
    await session.send(LLMRequest(request_id="late"))
    got = [await asyncio.wait_for(stream.__anext__(), 1) for _ in range(3)]
    assert types_of(got) == ["system.llm.request", "agent.llm.response.start",
                             "agent.llm.response.end"]
    await session.close()


async def test_warm_transfer_tool_article_style():
    llm = ScriptedLLM([ChatChunk(tool_calls=[
        ToolCall("t1", "warm_transfer", '{"reason": "card blocked abroad"}')])])
    desk = Desk(llm)
    desk.tools.discover(desk)
    session = await started(desk)
    events = await collect(session.turn("I want a human"))
    transfer = next(e for e in events if isinstance(e, TransferCall))
    assert transfer.option.type is TransferType.WARM
    assert transfer.option.handoff_prompt == "Escalation: card blocked abroad"
    assert session.end_reason == "transfer" and session.end_event is transfer
    await session.close()


async def test_background_node_can_end_the_call_for_everyone():
    class Watchdog(BackgroundAgentNode):
        async def process_event(self, event: Event) -> None:
            if isinstance(event, TranscriptUpdate) and "stop" in event.content:
                await self.send_event(EndCall(reason="watchdog"))

    echo = Echo()
    session = await started(Watchdog("watchdog"), echo)
    await session.send(TranscriptUpdate(role="user", content="please stop"))
    await asyncio.wait_for(session.wait_until_complete(), 1)
    assert session.end_event.reason == "watchdog" and echo.handoff_started
    await session.close()


async def test_observer_sees_every_event_once():
    recorder = Recorder()
    session = await started(recorder, Echo())
    sink_events = await collect(session.turn("count me"))
    await session.idle(2)
    seen_ids = [id(e) for e in recorder.seen]
    assert len(seen_ids) == len(set(seen_ids))
    assert {id(e) for e in sink_events} <= set(seen_ids)
    await session.close()
