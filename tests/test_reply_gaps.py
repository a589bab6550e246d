"""The longest gap inside a spoken reply (``TurnTrace.longest_gap_ms``), on virtual time.

Why measured: the first chunk is cut short so a chat reply starts speaking sooner; if the
LLM then cannot write the next clause before the first one has been said, the user hears a
stutter. ``bench latency`` reports it beside the first-chunk stages.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from localvox.pipeline.agent_port import ReplyText
from localvox.pipeline.events import TurnTrace
from test_pipeline_engine import LOUD, FakeAgent, FakeTTS, make_engine, of, run_collect, timeline
from virtual_time import virtual_time


class PausingAgent(FakeAgent):
    """Says ``first``, waits ``pause`` s (an LLM that is slow to go on), then ``rest``."""

    def __init__(self, first: str, rest: str, pause: float) -> None:
        super().__init__(reply=f"{first} {rest}")
        self.first, self.rest, self.pause = first, rest, pause

    async def respond(self, text: str) -> AsyncIterator[Any]:
        self.calls.append(text)
        yield ReplyText(self.first + " ")
        await asyncio.sleep(self.pause)
        yield ReplyText(self.rest)
        self.completed.append(text)


async def reply_trace(agent: FakeAgent) -> TurnTrace:
    audio = timeline((0.2, 0), (1.0, LOUD), (6.0, 0))
    engine = make_engine(audio, agent=agent, tts=FakeTTS(seconds_per_word=0.15, delay=0.02),
                         speculative=False)
    (trace,) = of(await run_collect(engine), TurnTrace)
    return trace


@virtual_time
async def test_a_reply_that_runs_dry_records_the_gap() -> None:
    # first chunk: 3 words = 0.45 s of audio; the next text comes 1.5 s later
    trace = await reply_trace(PausingAgent("Hello there friend.", "Here is more.", 1.5))
    assert trace.longest_gap_ms == pytest.approx(1500 - 450, abs=60)


@virtual_time
async def test_a_reply_that_keeps_up_has_no_gap() -> None:
    trace = await reply_trace(PausingAgent("Hello there friend.", "Here is more.", 0.1))
    assert trace.longest_gap_ms == 0.0
    assert "first_chunk_text" in trace.marks
    assert trace.marks["llm_first_token"] <= trace.marks["first_chunk_text"] \
        <= trace.marks["tts_first_chunk"]
