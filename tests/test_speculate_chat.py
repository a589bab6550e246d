"""Speculation on chat turns of the default assistant (issue #20: it ran 0 times on chat
turns, because the port only speculated in ``intent`` mode while the default is ``hybrid``).

In hybrid mode with only the built-in tools, a turn the intent router does not claim goes to
the LLM with no tools offered, so nothing can run before the guess is confirmed: such a turn
may start in the end-of-turn silence. A turn the router claims (a tool would run), or one
where the LLM is offered a user tool, still waits for the final transcript.
"""

from __future__ import annotations

from typing import Any

import pytest

from localvox.config import load_config
from localvox.pipeline.agent_port import SessionAgent
from localvox.pipeline.events import ReplyDone, TurnTrace
from test_pipeline_agent_port import ScriptedLLM
from test_pipeline_engine import LOUD, FakeASR, make_engine, of, run_collect, timeline

STORY = "Once upon a time a tiny robot sang. It sang all day long."


class WarmScriptedLLM(ScriptedLLM):
    """The scripted LLM with the warm-up the assistant asks for at start."""

    async def warm(self, messages: Any = None, tools: Any = None, *,
                   user_so_far: str = "") -> None:
        pass

    async def supports_tools(self) -> bool:
        return True


async def default_port(tmp_path, llm: Any, **llm_cfg: Any) -> SessionAgent:
    from localvox.agent.assistant import create_app

    config = load_config(use_user_file=False)
    assert config.llm.tool_mode == "auto" and config.llm.backend == "llama_cpp"  # = hybrid
    for key, value in llm_cfg.items():
        setattr(config.llm, key, value)
    config.agent.notes_db = str(tmp_path / "notes.db")
    return SessionAgent(await create_app(config, llm=llm).open_session())


async def test_default_assistant_speculates_on_chat_but_not_on_tools(tmp_path):
    port = await default_port(tmp_path, WarmScriptedLLM(STORY))
    try:
        assert port.can_speculate("tell me a story about robots")
        assert not port.can_speculate("what time is it")        # the router's clock tool
        assert not port.can_speculate("set a timer for five minutes")
    finally:
        await port.close()


async def test_no_speculation_when_the_llm_is_offered_a_user_tool(tmp_path):
    from localvox.agent.nodes import OutputAgentNode
    from localvox.agent.tools import function_tool

    port = await default_port(tmp_path, WarmScriptedLLM(STORY))
    try:
        @function_tool
        def book_table(time: str) -> str:
            """Book a table at the restaurant."""
            return f"booked at {time}"

        (node,) = [n for n in port.session.nodes if isinstance(n, OutputAgentNode)]
        node.registry.register(book_table)
        node.refresh_tools()
        # the LLM could call book_table, and SessionAgent holds no tools back
        assert not port.can_speculate("tell me a story about robots")
    finally:
        await port.close()


async def test_a_spoken_chat_turn_of_the_default_assistant_is_speculated(tmp_path):
    llm = WarmScriptedLLM(STORY, delay=0.01)
    port = await default_port(tmp_path, llm)
    try:
        audio = timeline((0.2, 0), (1.0, LOUD), (1.6, 0))
        engine = make_engine(audio, agent=port, asr=FakeASR(["tell me a story"]),
                             speculative=True, complete_ms=600)
        events = await run_collect(engine)
        (trace,) = of(events, TurnTrace)
        assert trace.speculative == "used"
        m = trace.marks
        assert m["llm_first_token"] < m["endpoint"]             # started in the silence
        assert m["first_audio_out"] >= m["final_transcript"]    # nothing played before it
        assert of(events, ReplyDone)[0].text == STORY
        assert len(llm.requests) == 1                            # the guess was the reply
    finally:
        await port.close()
