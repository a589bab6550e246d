"""Conversation flow through the engine, on virtual time (issue #15).

* Timers and alarms ring: an agent announcement outside a reply is said (spoken when there
  is a voice, shown always), and one that fires while the user speaks or a reply plays is
  queued and said afterwards -- never lost.
* The follow-up window is measured from the end of playback on the engine clock, and fast
  mode (``run --input``) and real time give the same turns.
* A follow-up turn is as fast as a first turn (the endpointer restarts after the reply, so
  its clock does not lag by the reply's length).

The fakes are those of ``test_pipeline_engine``; every test runs on ``VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from localvox.pipeline.events import (FinalTranscript, Notice, ReplyDone, StateChanged,
                                      TurnState, TurnTrace)
from localvox.pipeline.trace import stage_latencies
from test_pipeline_engine import (LOUD, WAKE, FakeAgent, FakeASR, FakeTTS,
                                  fast_and_realtime_engines, make_engine, of, run_collect,
                                  timeline)
from virtual_time import virtual_time

TIMER = "Your 5 second timer is done."


class AnnouncingAgent(FakeAgent):
    """A ``FakeAgent`` whose timers go off at the given loop times (from ``run()``)."""

    def __init__(self, rings: list[tuple[float, str]], **kw: Any) -> None:
        super().__init__(**kw)
        self.rings = rings

    async def announcements(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for at, text in self.rings:
            await asyncio.sleep(max(0.0, t0 + at - loop.time()))
            yield text


def done_texts(events: list[Any]) -> list[tuple[str, bool]]:
    return [(d.text, d.interrupted) for d in of(events, ReplyDone)]


def trace_of(events: list[Any], text: str) -> TurnTrace:
    return next(t for t in of(events, TurnTrace) if t.reply == text and not t.interrupted)


@virtual_time
async def test_timer_rings_when_nothing_is_going_on() -> None:
    tts = FakeTTS()
    engine = make_engine(timeline((4.0, 0)), agent=AnnouncingAgent([(1.0, TIMER)]), tts=tts)
    events = await run_collect(engine)
    assert done_texts(events) == [(TIMER, False)]
    trace = trace_of(events, TIMER)
    assert trace.source == "agent" and trace.text == ""
    assert tts.texts == [TIMER]                               # spoken
    assert engine.sink.samples == int(6 * 0.15 * 16000)
    said_at = trace.marks["first_audio_out"] - engine.clock.stream_to_clock(0.0)
    assert 1.0 <= said_at <= 1.1                              # when it fired
    seq = [e.state for e in events if isinstance(e, StateChanged)]
    assert seq[:4] == [TurnState.LISTENING, TurnState.THINKING, TurnState.SPEAKING,
                       TurnState.LISTENING]


@virtual_time
async def test_timer_while_asleep_is_said_without_the_wake_word() -> None:
    engine = make_engine(timeline((4.0, 0)), agent=AnnouncingAgent([(1.0, TIMER)]),
                         mode="wake")
    events = await run_collect(engine)
    assert done_texts(events) == [(TIMER, False)]
    seq = [e.state for e in events if isinstance(e, StateChanged)]
    assert seq[:3] == [TurnState.SLEEPING, TurnState.THINKING, TurnState.SPEAKING]


@virtual_time
async def test_timer_firing_while_the_user_speaks_is_said_after_their_reply() -> None:
    agent = AnnouncingAgent([(0.8, TIMER)], reply="It is noon.")
    audio = timeline((0.3, 0), (1.5, LOUD), (5.0, 0))        # the user speaks 0.3-1.8 s
    engine = make_engine(audio, agent=agent, speculative=False)
    events = await run_collect(engine)
    assert done_texts(events) == [("It is noon.", False), (TIMER, False)]
    user, timer = trace_of(events, "It is noon."), trace_of(events, TIMER)
    assert timer.marks["first_audio_out"] >= user.marks["playback_end"]
    assert [f.text for f in of(events, FinalTranscript)] == ["what time is it"]


@virtual_time
async def test_timer_firing_while_a_reply_plays_waits_for_its_end() -> None:
    reply = "One two three four five six seven eight nine ten."       # 1.5 s of audio
    agent = AnnouncingAgent([(2.2, TIMER)], reply=reply)
    audio = timeline((0.3, 0), (0.8, LOUD), (6.0, 0))
    engine = make_engine(audio, agent=agent, speculative=False)
    events = await run_collect(engine)
    assert done_texts(events) == [(reply, False), (TIMER, False)]
    first, timer = trace_of(events, reply), trace_of(events, TIMER)
    assert first.marks["first_audio_out"] < engine.clock.stream_to_clock(2.2)  # it played
    assert timer.marks["first_audio_out"] >= first.marks["playback_end"]


@virtual_time
async def test_timer_cut_off_before_it_was_heard_is_said_again() -> None:
    # The voice takes 0.5 s to start; the user starts talking in that time.
    agent = AnnouncingAgent([(1.0, TIMER)], reply="It is noon.")
    audio = timeline((1.2, 0), (0.8, LOUD), (5.0, 0))
    engine = make_engine(audio, agent=agent, tts=FakeTTS(delay=0.5), speculative=False)
    events = await run_collect(engine)
    heard = [(t, i) for t, i in done_texts(events) if not i]
    assert heard == [("It is noon.", False), (TIMER, False)]


@virtual_time
async def test_timer_in_a_text_only_session_without_a_voice_is_shown() -> None:
    engine = make_engine(None, agent=AnnouncingAgent([(0.5, TIMER)]))
    engine.tts = None
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    await asyncio.sleep(2.0)
    await engine.stop()
    await asyncio.wait_for(task, 5)
    events = [q.get_nowait() for _ in range(q.qsize())]
    assert done_texts(events) == [(TIMER, False)]
    assert any("shown, not spoken" in n.message for n in of(events, Notice))


# --- the follow-up window and the follow-up's speed -------------------------------------

REPLY = "Twelve times seven is eighty four."          # 6 words: 0.9 s of audio


def wake_parts() -> dict[str, Any]:
    return {"agent": FakeAgent(reply=REPLY, ttft=0.1),
            "asr": FakeASR(["what is twelve times seven", "and what is that plus one"],
                           words_per_s=8.0)}


def dialog(gap_after_reply_s: float | None, reply_end_s: float = 0.0) -> Any:
    """Wake word, question, the reply's time, then a follow-up ``gap`` after the reply."""
    head = [(0.3, 0), (0.5, WAKE), (0.3, 0), (0.9, LOUD)]
    if gap_after_reply_s is None:
        return timeline(*head, (8.0, 0))
    lead = sum(s for s, _ in head)
    return timeline(*head, (reply_end_s - lead + gap_after_reply_s, 0), (0.9, LOUD),
                    (3.0, 0))


async def reply_end_in_stream(**kw: Any) -> float:
    """Where the first reply's last sample falls in the recording (real time)."""
    engine = make_engine(dialog(None), mode="wake", **wake_parts(), **kw)
    events = await run_collect(engine)
    (trace,) = of(events, TurnTrace)
    return trace.marks["playback_end"] - engine.clock.stream_to_clock(0.0)


@pytest.mark.parametrize("gap,turns", [(4.25, 2), (5.75, 1)])
@virtual_time
async def test_follow_up_window_is_the_same_in_fast_mode_and_real_time(gap, turns) -> None:
    end = await reply_end_in_stream(speculative=False)
    audio = dialog(gap, end)
    for engine in fast_and_realtime_engines(audio, wake_parts, mode="wake",
                                            speculative=False):
        events = await run_collect(engine)
        finals = [f.text for f in of(events, FinalTranscript)]
        assert finals == ["what is twelve times seven", "and what is that plus one"][:turns]
        first = of(events, TurnTrace)[0]
        assert first.marks["playback_end"] - engine.clock.stream_to_clock(0.0) \
            == pytest.approx(end, abs=0.05)


@virtual_time
async def test_follow_up_turn_is_as_fast_as_the_first_in_both_modes() -> None:
    end = await reply_end_in_stream(speculative=True)
    audio = dialog(4.25, end)
    for engine in fast_and_realtime_engines(audio, wake_parts, mode="wake",
                                            speculative=True):
        events = await run_collect(engine)
        first, follow = of(events, TurnTrace)
        # The follow-up's speech_end is where its voice ends in the recording (before the
        # fix it read early by the reply's length: the endpointer's clock lagged).
        follow_end = end + 4.25 + 0.9
        assert follow.marks["speech_end"] == pytest.approx(
            engine.clock.stream_to_clock(follow_end), abs=0.035)
        assert first.speculative == follow.speculative == "used"
        a, b = stage_latencies(first.marks), stage_latencies(follow.marks)
        assert abs(b["voice_to_voice"] - a["voice_to_voice"]) <= 150, (a, b)
        assert abs(b["endpoint_wait"] - a["endpoint_wait"]) <= 100, (a, b)
        assert b["llm_first_token"] > 0 and a["llm_first_token"] > 0   # never negative


class SlowFirstFinal(FakeASR):
    """The first utterance's final transcript takes 1.5 s (a loaded machine)."""

    def stream(self):
        stream = super().stream()
        if self.count == 1:
            finish = stream.finish

            async def slow_finish():
                await asyncio.sleep(1.5)
                return await finish()

            stream.finish = slow_finish  # type: ignore[method-assign]
        return stream


@virtual_time
async def test_a_late_final_is_the_start_of_the_next_utterance_not_a_second_reply() -> None:
    # "first" ends at 1.0 s; its final arrives at ~2.9 s, after "second" (1.6-2.3 s) has
    # been transcribed. The user went on before being answered: one turn, one reply.
    agent = FakeAgent(reply="Done.")
    audio = timeline((0.3, 0), (0.7, LOUD), (0.6, 0), (0.7, LOUD), (3.0, 0))
    engine = make_engine(audio, agent=agent, asr=SlowFirstFinal(["first", "second"]),
                         speculative=False)
    events = await run_collect(engine)
    assert [f.text for f in of(events, FinalTranscript)] == ["first second"]
    assert agent.calls == ["first second"]
    assert done_texts(events) == [("Done.", False)]


@virtual_time
async def test_typed_turn_is_text_to_voice_in_the_trace(tmp_path) -> None:
    import json

    from localvox.pipeline.trace import TraceWriter

    engine = make_engine(None, trace=TraceWriter(tmp_path / "t.jsonl"))
    task = asyncio.ensure_future(engine.run())
    await engine.submit_text("hello")
    await asyncio.sleep(3.0)
    await engine.stop()
    await asyncio.wait_for(task, 5)
    (record,) = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert record["source"] == "text"
    assert "voice_to_voice" not in record["latency_ms"]
    assert record["latency_ms"]["text_to_voice"] > 0
    assert record["latency_ms"]["llm_first_token"] == pytest.approx(50, abs=5)  # FakeAgent


def test_speculative_llm_time_is_measured_from_the_request_not_the_final() -> None:
    # A speculation asked the LLM 180 ms before the final transcript; its first token came
    # 61 ms before the final ("llm -61 ms" before the fix).
    marks = {"speech_end": 0.0, "endpoint": 0.4, "final_transcript": 0.45,
             "llm_request": 0.27, "llm_first_token": 0.389, "tts_first_chunk": 0.43,
             "first_audio_out": 0.46}
    lat = stage_latencies(marks)
    assert lat["llm_first_token"] == pytest.approx(119.0)
    assert lat["voice_to_voice"] == pytest.approx(460.0)
