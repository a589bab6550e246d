"""The reply's first audio goes before the LLM's next token (``localvox.cpu_share``).

Why: on 2 cores Piper's first chunk took ~120 ms beside a decoding 1.5B and ~90 ms with the
decode paused, and the user waits for that chunk. Checked at each end: a spoken reply holds
the gate exactly while its first chunk is synthesised, and the real llama.cpp model parks
between tokens while it is held and finishes once it is let go.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator

import pytest

from localvox.cpu_share import CPU, CpuShare
from localvox.pipeline.agent_port import ReplyText
from localvox.pipeline.events import TurnTrace
from localvox.tts.base import SpeechChunk
from test_pipeline_engine import LOUD, FakeAgent, FakeTTS, make_engine, of, run_collect, timeline
from virtual_time import virtual_time


def test_the_gate_counts_its_holders_and_parks_a_worker_until_the_last_lets_go() -> None:
    share = CpuShare()
    assert share.yield_to_urgent() is False  # nothing urgent: no wait at all
    resumed = threading.Event()

    def background() -> None:
        share.yield_to_urgent(max_wait_s=30)
        resumed.set()

    with share.urgent():
        with share.urgent():
            worker = threading.Thread(target=background)
            worker.start()
            assert share.parked.wait(10)
        assert share.held and not resumed.is_set()  # one holder left: still parked
    assert resumed.wait(10) and not share.held
    worker.join()
    assert share.yields == 1


def test_a_holder_that_hangs_costs_the_worker_a_bounded_wait() -> None:
    share = CpuShare()
    with share.urgent():
        assert share.yield_to_urgent(max_wait_s=0.01) is True  # returns while still held


class WatchedTTS(FakeTTS):
    """Records, for each chunk it synthesises, whether the process's gate was held."""

    def __init__(self) -> None:
        super().__init__(seconds_per_word=0.15, delay=0.02)
        self.held: list[bool] = []

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        self.held.append(CPU.held)
        async for chunk in super().synthesize(text):
            yield chunk


class TwoClauseAgent(FakeAgent):
    async def respond(self, text: str) -> AsyncIterator[Any]:
        self.calls.append(text)
        yield ReplyText("Owls are known for their calls. ")
        yield ReplyText("They hunt at night and see well in the dark.")
        self.completed.append(text)


@virtual_time
async def test_a_spoken_reply_holds_the_gate_only_while_its_first_chunk_is_made() -> None:
    tts = WatchedTTS()
    audio = timeline((0.2, 0), (1.0, LOUD), (6.0, 0))
    engine = make_engine(audio, agent=TwoClauseAgent(reply=""), tts=tts, speculative=False)
    (trace,) = of(await run_collect(engine), TurnTrace)
    assert "tts_first_chunk" in trace.marks
    assert len(tts.held) >= 2 and tts.held[0] is True
    assert not any(tts.held[1:])  # later chunks are made while the first one plays
    assert not CPU.held


@pytest.mark.models
async def test_the_llama_cpp_model_parks_between_tokens_while_the_gate_is_held() -> None:
    from localvox.config import load_config
    from localvox.llm.llama_cpp import create

    config = load_config(use_user_file=False)
    config.llm.model = "smollm2_135m"  # the mechanism needs no good brain
    llm = create(config)
    share = CpuShare()
    llm.yield_to = share
    messages = [{"role": "user", "content": "Write a long story about owls."}]
    try:
        with share.urgent():
            stream = llm.chat(messages, max_tokens=16, temperature=0)
            first = await stream.__anext__()
            assert first.content or first.finish_reason
            assert await asyncio.to_thread(share.parked.wait, 60)  # waiting on the gate
        rest = [c async for c in stream]
    finally:
        await llm.close()
    assert share.yields >= 1
    assert rest[-1].finish_reason in ("stop", "length")  # and it went on to the end


async def test_reading_ahead_waits_while_a_reply_makes_its_first_audio() -> None:
    """The model reading a partial transcript ahead of need parks between steps while the
    gate is held, and finishes reading once it is let go."""
    from localvox.config import load_config
    from localvox.llm.llama_cpp import create

    config = load_config(use_user_file=False)
    config.llm.model = "smollm2_135m"
    llm = create(config)
    share = CpuShare()
    llm.yield_to = share
    system = [{"role": "system", "content": "You are a voice assistant."}]
    heard = "Tell me a long story about the owls that live in the old barn by the river"
    try:
        await llm.warm(system)
        before = llm._llm.n_tokens
        with share.urgent():
            warm = asyncio.ensure_future(llm.warm(system, user_so_far=heard))
            assert await asyncio.to_thread(share.parked.wait, 60)  # parked, not reading
        await warm
        assert llm._llm.n_tokens > before + 10  # the words were read after the release
    finally:
        await llm.close()
    assert share.yields >= 1
