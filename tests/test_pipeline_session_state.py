"""Per-turn state must not pile up over a long session (the soak's leaks, in miniature).

A session answers many turns through the real engine, SDK session and default assistant
(intent mode; a scripted LLM for chit-chat): the conversation history, the agent port's
snapshot, the session's event streams and the engine's trace list stay bounded. Also: an
utterance abandoned mid-speech (mute) cancels its ASR stream, not just its task.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from localvox.agent.context import DEFAULT_MAX_TURNS, ContextManager
from localvox.audio.null import NullSink
from localvox.config import load_config
from localvox.pipeline import replies
from localvox.pipeline.agent_port import SessionAgent
from localvox.pipeline.engine import EngineOptions, TurnEngine
from localvox.pipeline.events import FinalTranscript, ReplyDone
from test_pipeline_agent_port import ScriptedLLM
from test_pipeline_engine import (LOUD, FakeASR, SentenceChunker, make_engine, run_collect,
                                  timeline)

TYPED = ["what time is it", "what's 17 times 23", "convert 5 miles to kilometers",
         "what's the date today", "what is 144 divided by 12"]


@pytest.fixture
async def session_engine(tmp_path, monkeypatch):
    from localvox.agent.assistant import create_app

    monkeypatch.setattr(replies, "TRACES_KEPT", 25)
    config = load_config(use_user_file=False)
    config.llm.tool_mode = "intent"
    config.agent.notes_db = str(tmp_path / "notes.db")
    llm = ScriptedLLM("I am fine, thank you.", delay=0.0)
    agent = SessionAgent(await create_app(config, llm=llm).open_session())
    engine = TurnEngine(source=None, sink=NullSink(), vad=None, segmenter=None, asr=None,
                        tts=None, agent=agent, chunker_factory=SentenceChunker,
                        options=EngineOptions(mode="always"))
    queue = engine.subscribe()
    runner = asyncio.ensure_future(engine.run())

    async def turn(text: str) -> str:
        await engine.submit_text(text)
        while True:
            ev = await asyncio.wait_for(queue.get(), 10)
            if isinstance(ev, ReplyDone):
                return ev.text

    yield engine, agent, llm, turn
    await engine.stop()
    await asyncio.gather(runner, return_exceptions=True)
    await agent.close()


def _sizes(engine: TurnEngine, agent: SessionAgent) -> dict[str, Any]:
    (context,) = agent._contexts()
    session = agent.session
    return {"history": len(context), "snapshot": sum(len(s) for _, s in agent._snapshot),
            "streams": len(session._subscribers), "bus": session._bus.qsize(),
            "inflight": sum(len(n._inflight) for n in session.nodes),
            "tasks": len(asyncio.all_tasks()), "traces": len(engine.traces)}


async def test_a_long_session_keeps_bounded_state(session_engine):
    engine, agent, llm, turn = session_engine
    n_turns = 3 * DEFAULT_MAX_TURNS
    for n in range(n_turns):
        reply = await turn("how are you" if n % 10 == 9 else TYPED[n % len(TYPED)])
        assert reply.strip()
        if n == DEFAULT_MAX_TURNS:
            early = _sizes(engine, agent)
    late = _sizes(engine, agent)
    bound = 1 + 2 * DEFAULT_MAX_TURNS           # system prompt + a user and a reply per turn
    assert late["history"] <= bound and late["snapshot"] <= bound, late
    assert late["history"] == early["history"], (early, late)
    # One stream stays open for the whole session: the engine listening for timers.
    assert late["streams"] == 1 and late["bus"] == 0 and late["inflight"] == 0, late
    assert late["tasks"] <= early["tasks"], (early, late)
    # the LLM is handed the bounded conversation, not every turn ever taken
    assert len(llm.requests[-1]) <= bound
    # traces: the latest ones only, oldest first
    assert late["traces"] == 25
    assert engine.traces[-1].turn_id == n_turns and engine.traces[0].turn_id == n_turns - 24


def test_context_keeps_whole_recent_turns_and_the_system_prompt():
    ctx = ContextManager([{"role": "system", "content": "Be brief."}], max_turns=2)
    for i in range(4):
        ctx.add_message({"role": "user", "content": f"q{i}"})
        if i == 1:       # a tool turn: its records go together
            ctx.add_messages([
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "get_time", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "name": "get_time", "content": "noon"}])
        ctx.add_message({"role": "assistant", "content": f"a{i}"})
    assert [m["content"] for m in ctx.history] == ["Be brief.", "q2", "a2", "q3", "a3"]
    unbounded = ContextManager(max_turns=None)
    for i in range(50):
        unbounded.add_messages([{"role": "user", "content": "q"},
                                {"role": "assistant", "content": "a"}])
    assert len(unbounded) == 100
    with pytest.raises(ValueError):
        ContextManager(max_turns=0)


def test_snapshot_and_restore_forget_a_turn():
    ctx = ContextManager([{"role": "system", "content": "s"}], max_turns=1)
    ctx.add_messages([{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}])
    saved = ctx.snapshot()
    ctx.add_message({"role": "user", "content": "guess"})    # pushes q0 out (max_turns=1)
    assert [m["content"] for m in ctx.history] == ["s", "guess"]
    ctx.restore(saved)
    assert [m["content"] for m in ctx.history] == ["s", "q0", "a0"]


class RecordingASR(FakeASR):
    """Remembers which streams were cancelled."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.cancelled: list[Any] = []

    def stream(self) -> Any:
        stream = super().stream()

        async def cancel() -> None:
            self.cancelled.append(stream)

        stream.cancel = cancel  # type: ignore[method-assign]
        return stream


async def test_muting_mid_utterance_cancels_the_asr_stream():
    asr = RecordingASR(["hello there how are you"])
    engine = make_engine(timeline((0.3, 0), (1.6, LOUD), (0.8, 0)), asr=asr,
                         speculative=False)

    async def mute_while_speaking(engine: TurnEngine) -> None:
        await asyncio.sleep(1.0)
        assert engine._utt is not None
        engine.set_muted(True)

    events = await run_collect(engine, mute_while_speaking)
    assert asr.count == 1 and len(asr.cancelled) == 1
    assert not [e for e in events if isinstance(e, FinalTranscript)]
    assert not engine.hearing.closing
