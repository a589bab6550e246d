"""The Atoms names (``localvox.atoms``), ``App.run``'s launcher and its failure modes, with
scripted LLMs (no model needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from localvox.agent import events as ev
from localvox.agent.app import App, SetupError
from localvox.agent.app_agent import AppAgent, handoff_notice
from localvox.agent.client import ChatStream, LLMClient, set_active_config
from localvox.agent.launch import load_app, run_app
from localvox.llm.base import ChatChunk, ToolCall
from localvox.pipeline.agent_port import AgentNotice, EndSession, ReplyText, ToolFinished

REPO = Path(__file__).resolve().parent.parent


class ScriptedLLM:
    name = "scripted"

    def __init__(self, *replies: Sequence[ChatChunk]) -> None:
        self.replies = [list(r) for r in replies]
        self.requests: list[dict[str, Any]] = []

    async def chat(self, messages, tools=None, *, stream=True, **kw) -> AsyncIterator[ChatChunk]:
        self.requests.append({"messages": messages, "tools": tools})
        for chunk in self.replies.pop(0) if self.replies else [ChatChunk(content="ok")]:
            yield chunk

    async def close(self) -> None:
        pass


def test_atoms_import_paths_are_the_localvox_classes() -> None:
    from localvox.agent import nodes, session, tools
    from localvox.atoms.agent.clients import OpenAIClient
    from localvox.atoms.agent.clients.openai import OpenAIClient as OpenAIClient2
    from localvox.atoms.agent.clients.types import ToolCall as AtomsToolCall
    from localvox.atoms.agent.clients.types import ToolResult
    from localvox.atoms.agent.events import (SDKAgentEndCallEvent, SDKAgentTranscriptUpdateEvent,
                                             SDKEvent, SDKSystemUserJoinedEvent,
                                             TransferOptionType)
    from localvox.atoms.agent.nodes import BackgroundAgentNode, OutputAgentNode
    from localvox.atoms.agent.server import AtomsApp
    from localvox.atoms.agent.session import AgentSession
    from localvox.atoms.agent.tools import ToolRegistry, function_tool

    assert AtomsApp is App and AgentSession is session.Session
    assert OutputAgentNode is nodes.OutputAgentNode
    assert BackgroundAgentNode is nodes.BackgroundAgentNode
    assert ToolRegistry is tools.ToolRegistry and function_tool is tools.function_tool
    assert AtomsToolCall is ToolCall and ToolResult is tools.ToolResult
    assert OpenAIClient is OpenAIClient2 and issubclass(OpenAIClient, LLMClient)
    assert SDKEvent is ev.Event and SDKSystemUserJoinedEvent is ev.UserJoined
    assert SDKAgentEndCallEvent is ev.EndCall
    update = SDKAgentTranscriptUpdateEvent(role="user", content="hi")
    assert isinstance(update, ev.TranscriptUpdate) and (update.role, update.content) == (
        "user", "hi")
    assert TransferOptionType.COLD_TRANSFER is ev.TransferType.COLD
    assert TransferOptionType.WARM_TRANSFER is ev.TransferType.WARM


def test_app_takes_the_atoms_setup_handler_keyword() -> None:
    async def on_start(session) -> None:
        await session.start()

    assert App(setup_handler=on_start).setup is on_start
    assert App(on_start).setup_handler is on_start
    with pytest.raises(TypeError, match="setup handler"):
        App()


def test_warm_transfer_from_the_atoms_keywords_is_a_transfer_call() -> None:
    from localvox.atoms.agent.events import (SDKAgentTransferConversationEvent, TransferOption,
                                             TransferOptionType, WarmTransferHandoffOptionType,
                                             WarmTransferPrivateHandoffOption)

    event = SDKAgentTransferConversationEvent(
        transfer_call_number="+1 555 0100",
        transfer_options=TransferOption(
            type=TransferOptionType.WARM_TRANSFER,
            private_handoff_option=WarmTransferPrivateHandoffOption(
                type=WarmTransferHandoffOptionType.PROMPT, prompt="Customer escalation: bill")),
        on_hold_music="uplifting_beats")
    assert isinstance(event, ev.TransferCall)
    assert (event.number, event.option.type, event.option.handoff_prompt, event.on_hold_music) \
        == ("+1 555 0100", ev.TransferType.WARM, "Customer escalation: bill", "uplifting_beats")
    assert event.transfer_options.private_handoff_option.prompt == "Customer escalation: bill"
    wire = ev.Event.from_json(event.to_json())     # what a WebSocket client receives
    assert isinstance(wire, ev.TransferCall) and wire.option.handoff_prompt == \
        "Customer escalation: bill" and wire.option.type is ev.TransferType.WARM
    line = handoff_notice(event)
    assert line.startswith("transferring (warm) to +1 555 0100") and "uplifting_beats" in line \
        and "Customer escalation: bill" in line
    cold = SDKAgentTransferConversationEvent(
        transfer_call_number=None, transfer_options=TransferOption(
            type=TransferOptionType.COLD_TRANSFER), on_hold_music="relaxing_sound")
    assert handoff_notice(cold) == ("transferring (cold) to (no number given), "
                                    "hold music 'relaxing_sound'")


async def test_chat_can_be_awaited_then_iterated_or_iterated_directly() -> None:
    client = LLMClient(llm=ScriptedLLM([ChatChunk(content="Hel"), ChatChunk(content="lo")],
                                       [ChatChunk(content="again")]))
    response = await client.chat(messages=[{"role": "user", "content": "hi"}], stream=True)
    assert isinstance(response, ChatStream)
    assert [c.content async for c in response] == ["Hel", "lo"]
    assert [c.content async for c in client.chat([{"role": "user", "content": "x"}])] == [
        "again"]


async def test_execute_takes_tool_calls_and_reports_to_the_node_that_discovered_it() -> None:
    from localvox.agent import OutputAgentNode, Session, ToolRegistry, function_tool

    class Agent(OutputAgentNode):
        def __init__(self) -> None:
            super().__init__("agent")
            self.tool_registry = ToolRegistry()
            self.tool_registry.discover(self)

        @function_tool()
        def get_weather(self, city: str) -> str:
            """Weather.

            Args:
                city: The city.
            """
            return f"sunny in {city}"

        @function_tool()
        def broken(self) -> str:
            """Always fails."""
            raise RuntimeError("database down")

        async def generate_response(self):
            results = await self.tool_registry.execute(tool_calls=[
                ToolCall("a", "get_weather", '{"city": "Paris"}'), ToolCall("b", "broken", "")],
                parallel=True)
            yield " / ".join(r.content for r in results)

    session = Session()
    session.add_node(Agent())
    await session.start()
    events = [e async for e in session.turn("weather?")]
    reply = "".join(e.text for e in events if isinstance(e, ev.ResponseChunk))
    assert reply == "sunny in Paris / Error: broken failed: database down"
    assert [e.name for e in events if isinstance(e, ev.ToolCallStart)] == ["get_weather",
                                                                          "broken"]
    assert [e.name for e in events if isinstance(e, ev.ToolCallError)] == ["broken"]
    await session.close()


def test_a_user_tool_named_like_a_builtin_gets_its_own_argument_name() -> None:
    """The article's get_weather(city): routing filled the built-in's `location` (a bad
    argument error) before the router fitted the arguments to the registered schema."""
    from localvox.agent import ToolRegistry, function_tool
    from localvox.agent.intent import IntentRouter

    @function_tool()
    def get_weather(city: str) -> str:
        """Get the current weather for a city.

        Args:
            city: The city name to check weather for.
        """
        return city

    registry = ToolRegistry()
    registry.register(get_weather)
    call = IntentRouter(registry.get_schemas()).tool_call("What's the weather in New Delhi?")
    assert call is not None and json.loads(call.arguments) == {"city": "new delhi"}


def test_openai_client_uses_the_openai_variables_else_the_local_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from localvox.agent.client import take_announcements
    from localvox.config import load_config
    from localvox.llm.openai import OpenAICompatibleLLM

    config = load_config(use_user_file=False)
    set_active_config(config)
    take_announcements()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        remote = LLMClient(model="gpt-4o-mini", api_key="sk-test")
        assert isinstance(remote.llm, OpenAICompatibleLLM)
        assert (remote.llm.base_url, remote.llm.model) == ("http://127.0.0.1:9/v1", "gpt-4o-mini")
        assert remote.tool_mode == "native"
        said = take_announcements()
        assert said and "gpt-4o-mini at http://127.0.0.1:9/v1" in said[0]
        assert "sk-test" not in said[0]
        # An LLM chosen on the command line beats the environment.
        set_active_config(config, llm_chosen=True)
        chosen = LLMClient(model="gpt-4o-mini")
        assert chosen.llm.name == config.llm.backend and "chosen by --llm" in chosen.source
        set_active_config(config)
        monkeypatch.delenv("OPENAI_BASE_URL")
        monkeypatch.delenv("OPENAI_API_KEY")
        local = LLMClient(model="gpt-4o-mini", api_key=None)
        assert local.llm.name == config.llm.backend and local.llm is chosen.llm  # loaded once
        assert "OPENAI_BASE_URL/OPENAI_API_KEY not set" in take_announcements()[-1]
    finally:
        set_active_config(None)


async def test_intent_mode_routes_the_tool_and_speaks_its_result() -> None:
    """On the small local model the tool call is deterministic and the tool's words are
    the answer (the article's weather loop, as the model sees it)."""
    llm = ScriptedLLM([ChatChunk(content="chit-chat")])
    client = LLMClient(llm=llm)
    client.tool_mode = "intent"
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    asked = [{"role": "user", "content": "What's the weather in Paris?"}]
    chunks = [c async for c in await client.chat(messages=asked, tools=tools)]
    assert chunks[0].tool_calls[0].name == "get_weather"
    after = asked + [{"role": "assistant", "content": "", "tool_calls": [
        chunks[0].tool_calls[0].to_dict()]}, {"role": "tool", "tool_call_id": "x",
                                              "content": "Sunny in Paris."}]
    assert [c.content async for c in client.chat(after)] == ["Sunny in Paris."]
    assert not llm.requests     # the model was not asked at all
    chat = [c.content async for c in client.chat(after + [
        {"role": "assistant", "content": "Sunny in Paris."},
        {"role": "user", "content": "thanks"}], tools=tools)]
    assert chat == ["chit-chat"]
    assert all(m["role"] != "tool" and not m.get("tool_calls")
               for m in llm.requests[0]["messages"]) and llm.requests[0]["tools"] is None


async def test_a_hung_node_is_cut_off_with_a_notice_and_the_next_turn_is_answered() -> None:
    from localvox.agent import OutputAgentNode, Session

    class Hangs(OutputAgentNode):
        turns = 0

        async def generate_response(self):
            type(self).turns += 1
            if type(self).turns == 1:
                await asyncio.Event().wait()       # a node awaiting forever
            yield "second turn works"

    session = Session()
    session.add_node(Hangs("hangs"))
    await session.start()
    port = AppAgent(session, reply_timeout_s=0.3)
    first = [p async for p in port.respond("hello")]
    assert first == [AgentNotice("warning", "hangs produced nothing for 0.3 s (a node "
                                 "awaiting forever?); this reply was cut off")]
    second = [p async for p in port.respond("again")]
    assert second == [ReplyText("second turn works")]
    await session.close()


async def test_a_tool_that_raises_is_a_tool_error_and_the_reply_goes_on() -> None:
    from localvox.atoms.agent.nodes import OutputAgentNode
    from localvox.atoms.agent.session import AgentSession
    from localvox.atoms.agent.tools import ToolRegistry, function_tool

    class Bank(OutputAgentNode):
        def __init__(self) -> None:
            super().__init__(name="bank")
            self.tool_registry = ToolRegistry()
            self.tool_registry.discover(self)

        @function_tool()
        def execute_query(self, sql: str) -> str:
            """Run SQL.

            Args:
                sql: SELECT only.
            """
            raise ValueError("Only SELECT queries allowed")

        async def generate_response(self):
            results = await self.tool_registry.execute(
                tool_calls=[ToolCall("q1", "execute_query", '{"sql": "DELETE FROM x"}')])
            yield "I could not run that." if results[0].is_error else "done"

    session = AgentSession()
    session.add_node(Bank())
    await session.start()
    pieces = [p async for p in AppAgent(session).respond("delete everything")]
    errors = [p for p in pieces if isinstance(p, ToolFinished)]
    assert len(errors) == 1 and errors[0].is_error
    assert errors[0].result == "execute_query failed: Only SELECT queries allowed"
    assert pieces[-1] == ReplyText("I could not run that.")
    await session.close()


async def test_a_transfer_reaches_the_loop_as_a_notice_then_ends_the_session() -> None:
    from localvox.atoms.agent.events import (SDKAgentTransferConversationEvent, TransferOption,
                                             TransferOptionType)
    from localvox.atoms.agent.nodes import OutputAgentNode
    from localvox.atoms.agent.session import AgentSession

    class Transfers(OutputAgentNode):
        async def generate_response(self):
            yield "Connecting you."
            await self.send_event(SDKAgentTransferConversationEvent(
                transfer_call_number="+1 555 0100",
                transfer_options=TransferOption(type=TransferOptionType.COLD_TRANSFER),
                on_hold_music="relaxing_sound"))

    session = AgentSession()
    session.add_node(Transfers("t"))
    await session.start()
    pieces = [p async for p in AppAgent(session).respond("a human please")]
    assert pieces == [ReplyText("Connecting you."),
                      AgentNotice("info", "transferring (cold) to +1 555 0100, hold music "
                                  "'relaxing_sound'"), EndSession("transfer")]
    await session.close()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_agent.py"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_setup_handler_that_never_starts_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def forgets(session) -> None:
        await asyncio.sleep(3600)

    code = run_app(App(setup_handler=forgets, start_timeout_s=0.2), ["--chat"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["localvox: the setup handler forgets() did not start the session within "
                   "0.2 s (it must `await session.start()`)"]

    async def returns(session) -> None:
        return None

    with pytest.raises(SetupError, match="returned without calling session.start"):
        asyncio.run(App(returns).open_session())


def test_load_app_finds_the_app_made_under_main_without_running_it(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "from localvox.atoms.agent.server import AtomsApp\n"
        "async def on_start(session):\n    await session.start()\n"
        "if __name__ == '__main__':\n"
        "    app = AtomsApp(setup_handler=on_start)\n    app.run()\n"))
    app = load_app(path)      # app.run() handed the app over instead of opening the TUI
    assert isinstance(app, App) and app.setup.__name__ == "on_start"
    module_level = _write(tmp_path, (
        "from localvox.agent import App\n"
        "async def setup(session):\n    await session.start()\napp = App(setup)\n"))
    assert isinstance(load_app(module_level), App)
    from localvox.errors import ConfigError

    with pytest.raises(ConfigError, match="makes no app"):
        load_app(_write(tmp_path, "x = 1\n"))


async def test_bank_listing_verifies_then_queries_and_analyses_with_an_audit_trail(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The article's "How much did I spend on Amazon since January 2024?" flow, with the
    model's tool calls scripted (the packaged model cannot pick these tools)."""
    from localvox.config import load_config

    set_active_config(load_config(use_user_file=False))
    try:
        app = load_app(REPO / "examples" / "atoms" / "bank_agent.py")
        session = await app.open_session()
        csr = next(n for n in session.nodes if n.name == "csr-agent")
        audit = next(n for n in session.nodes if n.name == "audit-logger")
        query = ("SELECT date, amount FROM transactions WHERE merchant = 'Amazon' "
                 "AND date >= '2024-01-01'")
        rows = json.dumps([{"date": d, "amount": a} for d, a in csr.db.con.execute(
            "SELECT date, amount FROM transactions WHERE merchant = 'Amazon'").fetchall()])

        def call(i: str, tool: str, **args: Any) -> ChatChunk:
            return ChatChunk(tool_calls=[ToolCall(i, tool, json.dumps(args))])

        csr.llm = LLMClient(llm=ScriptedLLM(
            [call("q0", "execute_query", sql=query)],          # before verification: refused
            [ChatChunk(content="First, your full name and date of birth, please.")],
            [call("v1", "verify_customer", name="asha rao", dob="1990-04-12", city="Pune")],
            [call("q1", "execute_query", sql=query)],
            [call("a1", "analyze_data", data_json=rows, analysis_type="total")],
            [ChatChunk(content="You spent 376000 rupees on Amazon across 13 payments.")],
            [call("d1", "execute_query", sql="DELETE FROM transactions")],
            [ChatChunk(content="I can only read your data.")]))
        await session.send(ev.UserJoined())
        first = [e async for e in session.turn("How much did I spend on Amazon since 2024?")]
        assert not [e for e in first if isinstance(e, ev.ToolCallStart)]   # refused unverified
        assert csr.context.messages[-2]["content"].startswith("Error: verify the customer")
        second = [e async for e in session.turn("Asha Rao, born 12 April 1990, from Pune.")]
        ends = {e.name: e.result for e in second if isinstance(e, ev.ToolCallEnd)}
        assert ends["verify_customer"].startswith("Level 2 verification successful")
        assert json.loads(ends["analyze_data"]) == {"total": 376000, "count": 13,
                                                    "currency": "INR"}
        assert len(json.loads(ends["execute_query"])) == 13
        reply = "".join(e.text for e in second if isinstance(e, ev.ResponseChunk))
        assert reply == "You spent 376000 rupees on Amazon across 13 payments."
        third = [e async for e in session.turn("Delete my transactions.")]
        errors = [e.error for e in third if isinstance(e, ev.ToolCallError)]
        assert errors == ["execute_query failed: Only SELECT queries allowed"]
        await session.idle(2)
        kinds = [k for (k,) in csr.db.con.execute("SELECT kind FROM audit ORDER BY id")]
        assert kinds[0] == "CALL_START" and kinds.count("TOOL_CALL") == 5
        assert kinds.count("TRANSCRIPT") == 6       # three caller turns, three replies
        assert audit._transcript[0] == {"role": "user",
                                        "content": "How much did I spend on Amazon since 2024?"}
        await app.close()
    finally:
        set_active_config(None)


async def test_a_guessed_reply_never_runs_a_tool_until_the_engine_takes_it() -> None:
    """Speculation for user agents: the tool waits at the session's gate after
    ToolCallStart; a discarded guess closes the reply before the tool ran."""
    from localvox.agent import OutputAgentNode, Session, ToolRegistry, function_tool
    from localvox.pipeline.agent_port import ToolStarted

    ran: list[str] = []

    class Agent(OutputAgentNode):
        def __init__(self) -> None:
            super().__init__("agent")
            self.tool_registry = ToolRegistry()
            self.tool_registry.discover(self)

        @function_tool()
        def book_table(self, when: str) -> str:
            """Book a table (a side effect).

            Args:
                when: The time.
            """
            ran.append(when)
            return "booked"

        async def generate_response(self):
            results = await self.tool_registry.execute(
                tool_calls=[ToolCall("c1", "book_table", '{"when": "8pm"}')])
            yield results[0].content

    session = Session()
    session.add_node(Agent())
    await session.start()
    port = AppAgent(session)
    assert port.can_speculate("book a table at 8")
    guess = port.respond("book a table at 8")
    assert isinstance(await guess.__anext__(), ToolStarted)
    assert ran == []                 # held: the engine has not taken the tool call
    await guess.aclose()             # the guess is discarded
    await port.discard()
    pieces = [p async for p in port.respond("book a table at 8pm")]
    assert pieces[-1] == ReplyText("booked")
    await session.close()            # every task of the session has finished or stopped
    # both turns ask for the same call: had the discarded guess run, it would be here twice
    assert ran == ["8pm"]


def test_no_speculation_with_background_nodes() -> None:
    from localvox.agent import BackgroundAgentNode, OutputAgentNode, Session

    class Out(OutputAgentNode):
        async def generate_response(self):
            yield "x"

    session = Session()
    session.add_node(Out("out"))
    session.add_node(BackgroundAgentNode("audit"))
    assert not AppAgent(session).can_speculate("hello")


def test_the_readme_agent_runs_and_calls_its_tool(tmp_path: Path) -> None:
    """The file in the README's "Write your own agent", as a user pastes it."""
    import os
    import re
    import subprocess
    import sys

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Write your own agent", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "my_agent.py").write_text(code, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_CONFIG_HOME=str(tmp_path / "c"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    proc = subprocess.run([sys.executable, str(tmp_path / "my_agent.py"), "--chat",
                           "--set", "llm.tool_mode=intent"],
                          input="What's the weather in Paris?\n", capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "agent> The weather in paris is sunny, 72°F" in proc.stdout, proc.stdout
    assert "answers with the local model" in proc.stderr


def test_the_status_bar_names_the_server_the_agent_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from localvox.agent.client import active_label
    from localvox.config import load_config

    set_active_config(load_config(use_user_file=False))
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        LLMClient(model="gpt-4o-mini")
        assert active_label() == "openai:gpt-4o-mini"
    finally:
        set_active_config(None)


async def test_client_sampling_settings_go_with_each_call() -> None:
    class Records(ScriptedLLM):
        async def chat(self, messages, tools=None, *, stream=True, **kw):
            self.requests.append(kw)
            yield ChatChunk(content="ok")

    llm = Records()
    client = LLMClient(llm=llm, temperature=0.0, max_tokens=40)
    [c async for c in client.chat([{"role": "user", "content": "hi"}], max_tokens=10)]
    assert llm.requests == [{"temperature": 0.0, "max_tokens": 10}]
    with pytest.raises(TypeError):
        LLMClient(llm=llm, top_k=3)     # an unknown setting is an error, not ignored


def test_user_code_failures_are_one_line_each_and_tracebacks_go_to_the_log(
        tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    agent = _write(tmp_path, (
        "from localvox.atoms.agent.nodes import OutputAgentNode\n"
        "from localvox.atoms.agent.server import AtomsApp\n"
        "from localvox.atoms.agent.tools import ToolRegistry, function_tool\n"
        "from localvox.atoms.agent.clients.types import ToolCall\n"
        "class A(OutputAgentNode):\n"
        "    def __init__(self):\n"
        "        super().__init__(name='a')\n"
        "        self.tools = ToolRegistry()\n        self.tools.discover(self)\n"
        "    @function_tool()\n    def boom(self) -> str:\n"
        "        '''Boom.'''\n        raise RuntimeError('database down')\n"
        "    async def generate_response(self):\n"
        "        r = await self.tools.execute(tool_calls=[ToolCall('x', 'boom', '')])\n"
        "        yield 'The tool said: ' + r[0].content\n"
        "        raise KeyError('oops in my node')\n"
        "async def on_start(session):\n    session.add_node(A())\n    await session.start()\n"
        "AtomsApp(setup_handler=on_start).run()\n"))
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(agent), "--chat"], input="hi\nagain\n",
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout.count("[tool error: boom failed: database down]") == 2  # both turns
    assert proc.stdout.count("[fatal: KeyError in a.generate_response: 'oops in my node']") == 2
    log = (tmp_path / "state" / "localvox" / "agent.log").read_text(encoding="utf-8")
    assert "RuntimeError: database down" in log and "KeyError: 'oops in my node'" in log


async def test_a_tool_run_outside_a_reply_is_not_held() -> None:
    from localvox.agent import RunContext, Session, ToolRegistry, function_tool
    from localvox.agent import OutputAgentNode

    class Out(OutputAgentNode):
        async def generate_response(self):
            yield "x"

    @function_tool()
    def ping() -> str:
        """Ping."""
        return "pong"

    session = Session()
    session.add_node(Out("out"))
    await session.start()
    AppAgent(session)                     # installs the session's tool gate
    registry = ToolRegistry()
    registry.register(ping)
    results = await asyncio.wait_for(registry.execute(
        tool_calls=[ToolCall("p", "ping", "")], context=RunContext(session=session)), 2)
    assert results[0].content == "pong"
    await session.close()
