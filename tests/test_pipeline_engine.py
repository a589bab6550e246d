"""Turn engine on a scripted timeline (LiveKit style): fake VAD/ASR/agent/TTS, real endpointer.

The "audio" is synthetic: each 32 ms frame holds a constant level and the fake VAD reads
the speech probability straight from it (level 0.45 -> p 0.9, a loud user; 0.3 -> p 0.6,
speech-like but below the barge-in threshold, like the assistant's own echo). The source
is paced in real time so playback, barge-in and the end-of-turn silence happen as they
would live; assertions are on the sink's samples, the events and the trace marks.

Every test runs on virtual time (``virtual_time.VirtualTimeLoop``; the engine clock is the
loop's clock): the timeline plays out exactly, in no wall time, whatever the machine's
load -- a test here cannot flake on a busy CI runner.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

import numpy as np
import pytest

from localvox.audio.base import SAMPLE_RATE
from localvox.audio.wav import WavSource
from localvox.config import load_config
from localvox.errors import LLMError
from localvox.pipeline.agent_port import ReplyText, ToolStarted
from localvox.pipeline.engine import EngineOptions, TurnEngine
from localvox.pipeline.events import (FinalTranscript, Interrupted, Notice, PartialTranscript,
                                      ReplyDone, SessionEnded, SpeechStopped, StateChanged,
                                      TurnState,
                                      TurnTrace, WakeDetected)
from localvox.pipeline.trace import (VOICE_MARKS, EngineClock, TraceWriter, read_traces,
                                     stage_latencies)
from localvox.tts.base import SpeechChunk
from localvox.vad.endpoint import Endpointer
from localvox.wake.base import Detection
from virtual_time import TimelineSource, virtual_time

LOUD, ECHO, WAKE = 0.45, 0.3, 0.2


def timeline(*parts: tuple[float, float]) -> np.ndarray:
    """[(seconds, level), ...] -> samples of constant level per stretch."""
    return np.concatenate([np.full(int(s * SAMPLE_RATE), lvl, np.float32) for s, lvl in parts])


class FakeVAD:
    name = "fake-vad"
    frame_samples = 512

    def probability(self, samples: np.ndarray) -> float:
        return float(min(1.0, np.max(np.abs(samples), initial=0.0) * 2.0))

    def reset(self) -> None:
        pass


class FakeWake:
    """Fires when a frame at the WAKE level ends a run of 0.3 s of it."""

    name = "fake_wake"

    def __init__(self) -> None:
        self.run = 0.0
        self.fed = 0

    def process(self, samples: np.ndarray, end_s: float) -> Detection | None:
        self.fed += 1
        if abs(float(np.max(samples)) - WAKE) < 1e-3:
            self.run += len(samples) / SAMPLE_RATE
            if self.run >= 0.3:
                self.run = -100.0
                return Detection("fake_wake", 0.9, end_s)
        else:
            self.run = 0.0
        return None

    def reset(self) -> None:
        self.run = 0.0


class FakeStream:
    def __init__(self, asr: "FakeASR", final: str, partial_text: str) -> None:
        self.asr, self.final, self.partial_text = asr, final, partial_text
        self.voiced = 0.0
        self.fed = 0.0
        self.last_partial_at = 0.0

    async def feed(self, samples: np.ndarray) -> None:
        self.fed += len(samples) / SAMPLE_RATE
        self.voiced += float(np.count_nonzero(samples)) / SAMPLE_RATE

    async def partial(self, *, force: bool = False):
        from localvox.asr.base import Transcript

        if self.fed - self.last_partial_at < (0.0 if force else 0.2):
            return None
        self.last_partial_at = self.fed
        await asyncio.sleep(self.asr.decode_s)
        words = self.partial_text.split()
        k = min(len(words), int(self.voiced * self.asr.words_per_s))
        if k == 0:
            return None
        text = " ".join(words[:k]) + ("?" if k == len(words) else "")
        return Transcript(text, False, self.fed)

    async def finish(self):
        from localvox.asr.base import Transcript

        await asyncio.sleep(self.asr.decode_s)
        return Transcript(self.final, True, self.fed)

    async def cancel(self) -> None:
        pass


class FakeASR:
    """Utterance i is heard as ``texts[i]``; partials reveal its words as voiced audio arrives.

    ``partials[i]`` (optional) makes partials differ from the final (speculation mismatch).
    """

    name = "fake-asr"

    def __init__(self, texts: list[str], partials: list[str] | None = None,
                 words_per_s: float = 6.0, decode_s: float = 0.01) -> None:
        self.texts, self.partials = texts, partials or texts
        self.words_per_s, self.decode_s = words_per_s, decode_s
        self.count = 0

    def stream(self) -> FakeStream:
        i = min(self.count, len(self.texts) - 1)
        self.count += 1
        return FakeStream(self, self.texts[i], self.partials[i])


class FakeAgent:
    """Replies ``reply`` word by word after ``ttft``; records interrupts and discards."""

    def __init__(self, reply: str = "It is noon. Have a nice day.", ttft: float = 0.05,
                 per_word: float = 0.01, fail: Exception | None = None,
                 tool_first: bool = False) -> None:
        self.reply, self.ttft, self.per_word = reply, ttft, per_word
        self.fail = fail
        self.tool_first = tool_first
        self.calls: list[str] = []
        self.completed: list[str] = []
        self.closed_early = 0
        self.interrupts: list[str] = []
        self.discards = 0
        self.tools_run = 0
        self.prepared: list[str] = []

    async def respond(self, text: str) -> AsyncIterator[Any]:
        self.calls.append(text)
        done = False
        try:
            await asyncio.sleep(self.ttft)
            if self.fail is not None:
                raise self.fail
            if self.tool_first:
                yield ToolStarted("c1", "clock", "{}")
                self.tools_run += 1
            for i, word in enumerate(self.reply.split()):
                yield ReplyText(word if i == 0 else " " + word)
                await asyncio.sleep(self.per_word)
            done = True
            self.completed.append(text)
        finally:
            if not done:
                self.closed_early += 1

    async def interrupt(self, heard: str) -> None:
        self.interrupts.append(heard)

    async def discard(self) -> None:
        self.discards += 1

    def prepare(self, heard_so_far: str) -> None:
        self.prepared.append(heard_so_far)


class FakeTTS:
    """``seconds_per_word`` of audio per chunk, made in ``delay`` s; level 0.1 (marks it)."""

    name = "fake-tts"
    sample_rate = SAMPLE_RATE

    def __init__(self, seconds_per_word: float = 0.15, delay: float = 0.02,
                 fail: bool = False) -> None:
        self.spw, self.delay, self.fail = seconds_per_word, delay, fail
        self.texts: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("voice file corrupt")
        self.texts.append(text)
        n = int(len(text.split()) * self.spw * SAMPLE_RATE)
        yield SpeechChunk(np.full(n, 0.1, np.float32), SAMPLE_RATE, text)

    async def close(self) -> None:
        pass


class PacedSink:
    """A speaker that plays in 20 ms blocks in real time and logs when each block went out."""

    name = "paced"

    def __init__(self, clock_now) -> None:
        self.now = clock_now
        self.blocks: list[tuple[float, int]] = []   # (clock time, samples)
        self.stops: list[float] = []
        self._stop = False

    async def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self._stop = False
        block = sample_rate // 50
        for i in range(0, len(samples), block):
            if self._stop:
                return
            n = len(samples[i:i + block])
            self.blocks.append((self.now(), n))
            await asyncio.sleep(n / sample_rate)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stop = True
        self.stops.append(self.now())

    async def close(self) -> None:
        pass

    @property
    def samples(self) -> int:
        return sum(n for _, n in self.blocks)


class SentenceChunker:
    def __init__(self) -> None:
        self.buf = ""

    def feed(self, text: str) -> list[str]:
        self.buf += text
        out = []
        while True:
            cut = min((self.buf.find(c) for c in ".?!" if c in self.buf), default=-1)
            if cut < 0:
                return out
            out.append(self.buf[:cut + 1].strip())
            self.buf = self.buf[cut + 1:]

    def flush(self) -> list[str]:
        rest, self.buf = self.buf.strip(), ""
        return [rest] if rest else []


def make_engine(samples: np.ndarray | None, *, asr: FakeASR | None = None,
                agent: FakeAgent | None = None, tts: FakeTTS | None = None,
                trace: TraceWriter | None = None, **opts: Any):
    config = load_config(use_user_file=False)
    config.endpoint.complete_silence_ms = opts.pop("complete_ms", 400)
    options = EngineOptions(**{"mode": "always", **opts})
    source = TimelineSource(samples) if samples is not None else None
    engine = TurnEngine(source=source, sink=None, vad=FakeVAD(),  # type: ignore[arg-type]
                        segmenter=Endpointer(config.endpoint, threshold=0.5,
                                             pre_roll_ms=300, min_speech_ms=100),
                        asr=asr or FakeASR(["what time is it"]),
                        tts=tts or FakeTTS(), agent=agent or FakeAgent(),
                        chunker_factory=SentenceChunker,
                        wake=FakeWake() if options.mode == "wake" else None,
                        options=options, trace=trace,
                        clock=EngineClock(asyncio.get_running_loop().time))
    engine.sink = PacedSink(engine.clock.now)
    return engine


async def run_collect(engine: TurnEngine, during=None) -> list[Any]:
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    if during is not None:
        await during(engine)
    await asyncio.wait_for(task, 30)
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def states(events: list[Any]) -> list[TurnState]:
    return [e.state for e in events if isinstance(e, StateChanged)]


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


async def test_one_turn_states_partials_trace_and_audio(tmp_path):
    audio = timeline((0.3, 0), (1.0, LOUD), (1.6, 0))
    agent, tts = FakeAgent(), FakeTTS()
    engine = make_engine(audio, agent=agent, tts=tts, trace=TraceWriter(tmp_path / "t.jsonl"),
                         speculative=False)
    events = await run_collect(engine)
    seq = states(events)
    assert seq[:5] == [TurnState.LISTENING, TurnState.HEARING, TurnState.TRANSCRIBING,
                       TurnState.THINKING, TurnState.SPEAKING]
    assert seq[-2:] == [TurnState.LISTENING, TurnState.IDLE]
    kinds = [type(e) for e in events]
    assert PartialTranscript in kinds
    # A partial arrived while the user was still speaking, and before the final.
    assert kinds.index(PartialTranscript) < kinds.index(SpeechStopped)
    assert kinds.index(PartialTranscript) < kinds.index(FinalTranscript)
    assert of(events, FinalTranscript)[0].text == "what time is it"
    done = of(events, ReplyDone)[0]
    assert done.text == agent.reply and not done.interrupted
    # Every word of the reply reached the sink, in two sentence chunks.
    assert tts.texts == ["It is noon.", "Have a nice day."]
    assert engine.sink.samples == int(3 * 0.15 * SAMPLE_RATE) + int(4 * 0.15 * SAMPLE_RATE)
    trace = of(events, TurnTrace)[0]
    assert set(VOICE_MARKS) <= set(trace.marks)
    m = trace.marks
    # speech_end is the end of the voiced audio in the stream (1.3 s), on the engine clock.
    assert m["speech_end"] == pytest.approx(engine.clock.stream_to_clock(1.3), abs=0.04)
    assert m["speech_start"] == pytest.approx(engine.clock.stream_to_clock(0.3), abs=0.04)
    assert m["speech_end"] + 0.4 <= m["endpoint"] + 0.04   # waited the complete-silence rule
    order = ["speech_start", "first_partial", "speech_end", "endpoint", "final_transcript",
             "llm_first_token", "tts_first_chunk", "first_audio_out", "playback_end"]
    assert [m[k] for k in order] == sorted(m[k] for k in order)
    assert m["first_audio_out"] == pytest.approx(engine.sink.blocks[0][0], abs=0.01)
    (line,) = read_traces(tmp_path / "t.jsonl")
    assert line.marks == trace.marks
    rec = json.loads((tmp_path / "t.jsonl").read_text())
    assert rec["latency_ms"]["voice_to_voice"] > 0
    assert isinstance(events[-1], SessionEnded) and events[-1].reason == "input_ended"


async def test_barge_in_cuts_playback_cancels_llm_and_records_interruption():
    # Reply: 40 words = 6 s of audio, streamed slowly so the LLM is still going at barge-in.
    reply = " ".join(f"word{i}." for i in range(40))
    agent = FakeAgent(reply=reply, per_word=0.1)
    audio = timeline((0.2, 0), (0.8, LOUD), (2.2, 0), (1.0, LOUD), (1.2, 0))
    asr = FakeASR(["tell me a story", "stop"])
    engine = make_engine(audio, agent=agent, asr=asr, speculative=False)
    events = await run_collect(engine)
    traces = of(events, TurnTrace)
    first = traces[0]
    assert first.interrupted
    onset = engine.clock.stream_to_clock(3.2)    # the user's second utterance starts here
    assert first.marks["first_audio_out"] < onset
    assert 0 <= first.marks["interrupt"] - onset <= 0.2
    # The sink got no block after the stop, and the stop came within 200 ms of onset.
    last_block = max(t for t, _ in engine.sink.blocks if t < onset + 0.5)
    assert last_block - onset <= 0.2
    assert engine.sink.stops and engine.sink.stops[0] - onset <= 0.2
    played_first = sum(n for t, n in engine.sink.blocks if t < onset + 0.3)
    assert played_first < 40 * 0.15 * SAMPLE_RATE / 2          # far from the whole reply
    # The LLM stream was closed before it finished; the agent was told what was heard.
    assert agent.closed_early >= 1 and agent.completed == ["stop"]
    assert len(agent.interrupts) == 1
    heard = agent.interrupts[0]
    assert heard.startswith("word0.") and "word39." not in heard
    assert of(events, Interrupted)[0].turn_id == first.turn_id
    assert of(events, ReplyDone)[0].interrupted
    # The barge-in speech itself became the next turn, first syllable included.
    assert [f.text for f in of(events, FinalTranscript)] == ["tell me a story", "stop"]
    assert traces[1].marks["speech_start"] == pytest.approx(onset, abs=0.04)


async def test_own_voice_level_does_not_barge_in():
    reply = "One two three four five six seven eight nine ten."
    agent = FakeAgent(reply=reply)
    # While the reply plays (~1.5 s), speech-like audio below the barge-in threshold.
    audio = timeline((0.2, 0), (0.8, LOUD), (0.6, 0), (1.0, ECHO), (1.5, 0))
    engine = make_engine(audio, agent=agent, speculative=False)
    events = await run_collect(engine)
    assert not of(events, Interrupted)
    assert of(events, ReplyDone)[0].interrupted is False
    assert engine.sink.samples == int(10 * 0.15 * SAMPLE_RATE)


async def test_partials_are_handed_to_the_agent_while_the_user_speaks():
    """Read-ahead: the agent gets each partial (``prepare``) before the final starts the
    turn, so its model can read the words early; the turn itself still gets the final.
    Only while the user talks: a partial decoded once they stopped (it covers the speech)
    is speculation's, not read ahead."""
    audio = timeline((0.3, 0), (1.2, LOUD), (1.8, 0))
    agent = FakeAgent()
    asr = FakeASR(["what time is it in Paris"], words_per_s=4.0, decode_s=0.1)
    events = await run_collect(make_engine(audio, agent=agent, asr=asr, speculative=False))
    partials = [e.text for e in of(events, PartialTranscript)]
    # the partials decoded while the user talked; not those decoded in the silence after
    assert agent.prepared == ["what time", "what time is", "what time is it"]
    assert len(partials) > len(agent.prepared) and partials[-1] == "what time is it"
    assert agent.calls == ["what time is it in Paris"]


async def test_speculative_reply_used_when_final_matches():
    agent = FakeAgent()
    audio = timeline((0.2, 0), (1.0, LOUD), (1.6, 0))
    engine = make_engine(audio, agent=agent, speculative=True, complete_ms=600)
    events = await run_collect(engine)
    (trace,) = of(events, TurnTrace)
    assert trace.speculative == "used"
    assert agent.calls == ["what time is it?"] and agent.discards == 0
    m = trace.marks
    # The LLM and the first chunk were done inside the end-of-turn silence.
    assert m["llm_first_token"] < m["endpoint"]
    assert m["tts_first_chunk"] < m["endpoint"]
    assert m["first_audio_out"] >= m["final_transcript"]     # but nothing played before it
    assert engine.sink.blocks[0][0] >= m["final_transcript"]
    assert of(events, ReplyDone)[0].text == agent.reply


async def test_speculative_reply_discarded_when_final_differs():
    agent = FakeAgent()
    asr = FakeASR(["what time is it in Paris"], partials=["what time is it"])
    audio = timeline((0.2, 0), (1.0, LOUD), (1.6, 0))
    engine = make_engine(audio, agent=agent, asr=asr, speculative=True, complete_ms=600)
    events = await run_collect(engine)
    (trace,) = of(events, TurnTrace)
    assert trace.speculative == "discarded"
    assert agent.calls == ["what time is it?", "what time is it in Paris"]
    assert agent.discards == 1 and agent.closed_early + len(agent.completed) == 2
    assert agent.completed[-1] == "what time is it in Paris"
    # Only the real reply was played (no audio from the discarded one).
    assert engine.sink.samples == int(3 * 0.15 * SAMPLE_RATE) + int(4 * 0.15 * SAMPLE_RATE)
    assert engine.sink.blocks[0][0] >= trace.marks["final_transcript"]


async def test_speculation_dropped_when_user_keeps_talking():
    agent = FakeAgent(tool_first=True)
    # A 350 ms pause (enough to speculate, shorter than the unknown-silence 700 ms).
    asr = FakeASR(["what time is it in Paris"], partials=["what time is it in Paris"],
                  words_per_s=5.0)
    audio = timeline((0.2, 0), (0.8, LOUD), (0.35, 0), (0.5, LOUD), (1.6, 0))
    engine = make_engine(audio, agent=agent, asr=asr, speculative=True, complete_ms=600)
    events = await run_collect(engine)
    assert len(of(events, TurnTrace)) == 1
    assert of(events, FinalTranscript)[0].text == "what time is it in Paris"
    assert agent.discards >= 1
    # The speculative run stopped at its tool call: the tool ran only for the real turn.
    assert agent.tools_run == 1
    assert [c.rstrip("?") for c in agent.completed] == ["what time is it in Paris"]


async def test_wake_word_gates_turns_and_follow_up_window():
    agent = FakeAgent(reply="Yes.")
    asr = FakeASR(["ignored", "first question", "follow up"])
    audio = timeline((0.8, LOUD), (0.5, 0),             # speech before the wake word: ignored
                     (0.5, WAKE), (0.3, 0),             # wake
                     (0.6, LOUD), (1.0, 0),             # question 1
                     (0.6, LOUD), (1.0, 0),             # follow-up without wake word
                     (1.6, 0), (0.6, LOUD), (0.8, 0))   # window closed: ignored
    engine = make_engine(audio, agent=agent, asr=asr, mode="wake", follow_up_s=1.0,
                         speculative=False)
    events = await run_collect(engine)
    assert len(of(events, WakeDetected)) == 1
    # Utterance 0 of the script ("ignored") was never transcribed: the ASR was not opened.
    assert asr.count == 2
    assert [f.text for f in of(events, FinalTranscript)] == ["ignored", "first question"]
    seq = states(events)
    assert seq[0] == TurnState.SLEEPING
    assert seq.count(TurnState.HEARING) == 2
    assert seq[-2] == TurnState.SLEEPING        # back to sleep after the window
    # The wake detector never heard the assistant's voice: it is not fed while speaking.
    assert engine.wake.fed < len(audio) // 512


async def test_text_turns_errors_become_notices_and_loop_goes_on():
    agent = FakeAgent(fail=LLMError("LLM server at http://x is not answering"))
    engine = make_engine(None, agent=agent)
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    await engine.submit_text("hello")
    await asyncio.sleep(0.3)
    agent.fail = None
    await engine.submit_text("hello again")
    for _ in range(100):
        if len(agent.completed) == 1 and engine.state == TurnState.IDLE:
            break
        await asyncio.sleep(0.05)
    await engine.stop()
    await asyncio.wait_for(task, 5)
    events = []
    while not q.empty():
        events.append(q.get_nowait())
    notices = of(events, Notice)
    assert notices and "not answering" in notices[0].message
    finals = of(events, FinalTranscript)
    assert [f.source for f in finals] == ["text", "text"]
    assert of(events, ReplyDone)[-1].text == agent.reply
    assert engine.sink.samples > 0


async def typed_turn(engine: TurnEngine, text: str) -> list[Any]:
    """Run the engine for one typed turn (until its trace is written); return its events."""
    q = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    await engine.submit_text(text)
    for _ in range(100):  # polled: the engine has no "turn finished" awaitable
        if engine.traces:
            break
        await asyncio.sleep(0.02)
    await engine.stop()
    await asyncio.wait_for(task, 5)
    events = []
    while not q.empty():
        events.append(q.get_nowait())
    return events


async def test_tts_failure_is_a_notice_and_text_reply_still_arrives():
    engine = make_engine(None, tts=FakeTTS(fail=True))
    events = await typed_turn(engine, "hello")
    assert any("voice file corrupt" in n.message for n in of(events, Notice))
    assert of(events, ReplyDone)[0].text == "It is noon. Have a nice day."


async def test_interrupt_and_speech_output_off():
    reply = " ".join(f"w{i}." for i in range(30))
    agent = FakeAgent(reply=reply, per_word=0.02)
    engine = make_engine(None, agent=agent)
    task = asyncio.ensure_future(engine.run())
    q = engine.subscribe()
    await engine.submit_text("talk")
    for _ in range(100):
        if engine.state == TurnState.SPEAKING:
            break
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    t0 = loop.time()                 # virtual: what the user would wait, not the CI's load
    await engine.interrupt()
    assert loop.time() - t0 < 0.2
    n = engine.sink.samples
    await asyncio.sleep(0.2)
    assert engine.sink.samples == n
    assert agent.interrupts and agent.closed_early == 1
    engine.set_speech_output(False)
    await engine.submit_text("quiet please")
    for _ in range(100):
        if len(engine.traces) == 2:
            break
        await asyncio.sleep(0.02)
    assert engine.sink.samples == n                   # text only
    assert engine.traces[1].reply == reply and "first_audio_out" not in engine.traces[1].marks
    await engine.stop()
    await asyncio.wait_for(task, 5)
    assert q.qsize() > 0


async def test_push_to_talk_mode():
    agent = FakeAgent(reply="Sure.")
    audio = timeline((0.8, LOUD), (0.6, 0), (0.8, LOUD), (0.4, 0), (1.2, 0))
    engine = make_engine(audio, agent=agent, mode="ptt", speculative=False,
                         asr=FakeASR(["pressed"]))

    async def press(engine: TurnEngine) -> None:
        await asyncio.sleep(1.3)                      # speech before the press is ignored
        await engine.push_to_talk(True)
        await asyncio.sleep(1.0)
        await engine.push_to_talk(False)              # release ends the utterance at once

    events = await run_collect(engine, press)
    finals = of(events, FinalTranscript)
    assert [f.text for f in finals] == ["pressed"]
    assert states(events)[0] == TurnState.LISTENING     # from idle, on the press
    assert engine.asr.count == 1                        # speech before the press: not heard


def fast_and_realtime_engines(audio: np.ndarray, parts: Any, **kw: Any) -> list[TurnEngine]:
    """The same timeline read in real time (a microphone) and in fast mode (``run --input``:
    a file sink that takes a reply at once, input read as fast as the loop takes it).
    ``parts()`` gives each engine fresh fakes (agent, asr)."""
    from localvox.audio.wav import WavSink

    live = make_engine(audio, **parts(), **kw)
    fast = make_engine(audio, **parts(), **kw, fast_input=True, play_on_clock=True)
    fast.source = TimelineSource(audio, realtime=False)
    fast.sink = WavSink(None)
    return [live, fast]


def two_turn_parts() -> dict[str, Any]:
    return {"agent": FakeAgent(reply="One two three four five six.", ttft=0.2),
            "asr": FakeASR(["first", "second"])}


def turns_of(events: list[Any]) -> list[tuple[str, str, bool]]:
    return [(t.source, t.text, t.interrupted) for t in of(events, TurnTrace)]


async def test_fast_mode_gives_the_same_turns_and_latency_as_real_time():
    """A file read as fast as possible: compute is counted, waiting for audio is skipped, and
    a reply lasts its audio on the clock -- so the turns and their latencies are those of a
    live run (issue #15: fast mode held the input and dropped a follow-up)."""
    audio = timeline((0.3, 0), (0.7, LOUD), (3.0, 0), (0.7, LOUD), (2.0, 0))
    results = []
    for engine in fast_and_realtime_engines(audio, two_turn_parts, speculative=False):
        t0 = time.monotonic()
        events = await run_collect(engine)
        results.append((turns_of(events), [t.marks for t in of(events, TurnTrace)],
                        time.monotonic() - t0))
    (live_turns, live_marks, _), (fast_turns, fast_marks, _) = results
    assert live_turns == fast_turns == [("voice", "first", False), ("voice", "second", False)]
    for live, fast in zip(live_marks, fast_marks):
        for name in ("voice_to_voice", "endpoint_wait", "llm_first_token"):
            assert stage_latencies(fast)[name] == pytest.approx(stage_latencies(live)[name],
                                                                abs=40)
        # The reply played for its length (6 words * 0.15 s) on the clock in both modes.
        assert fast["playback_end"] - fast["first_audio_out"] == pytest.approx(0.9, abs=0.04)


async def test_fast_mode_barges_in_where_real_time_does():
    """The user talks over the reply in the recording: both modes cut the reply off and
    answer the new question (before, fast mode waited for the reply and heard no barge-in)."""
    audio = timeline((0.3, 0), (0.7, LOUD), (0.8, 0), (0.7, LOUD), (1.5, 0))
    seen = []
    for engine in fast_and_realtime_engines(audio, two_turn_parts, speculative=False):
        seen.append(turns_of(await run_collect(engine)))
    assert seen[0] == seen[1] == [("voice", "first", True), ("voice", "second", False)]


async def test_barge_in_with_buffered_clocked_sink():
    """Same barge-in against the real-time ``ClockedSink`` (play() returns at once, audio is
    buffered): the buffer is dropped within 200 ms of the user's onset."""
    from localvox.audio.clocked import ClockedSink

    reply = " ".join(f"word{i}." for i in range(30))
    agent = FakeAgent(reply=reply, per_word=0.0)
    audio = timeline((0.2, 0), (0.8, LOUD), (2.0, 0), (1.0, LOUD), (1.2, 0))
    engine = make_engine(audio, agent=agent, asr=FakeASR(["story", "stop"]), speculative=False)
    sink = ClockedSink()
    stop_log: list[tuple[float, int]] = []
    real_stop = sink.stop

    async def stop() -> None:
        stop_log.append((engine.clock.now(), sink.samples_played))
        await real_stop()

    sink.stop = stop  # type: ignore[method-assign]
    engine.sink = sink
    events = await run_collect(engine)
    first = of(events, TurnTrace)[0]
    onset = engine.clock.stream_to_clock(3.0)
    assert first.interrupted and "playback_end" not in first.marks
    assert 0 <= first.marks["interrupt"] - onset <= 0.2
    at, played_at_stop = stop_log[0]
    assert at - onset <= 0.2
    whole = 30 * 0.15 * SAMPLE_RATE
    assert sink.samples_dropped > whole / 2
    # Nothing of the first reply played after the stop but the block already out (20 ms)
    # -- everything after that is the reply to "stop".
    assert agent.completed[-1] == "stop"
    second_reply = int(0.15 * SAMPLE_RATE) * 30          # 30 one-word sentences
    assert sink.samples_played - played_at_stop <= 320 + second_reply
    assert agent.interrupts and of(events, ReplyDone)[0].interrupted
    await sink.close()


async def test_device_and_wake_failures_are_notices_not_crashes():
    from localvox.audio.base import AudioFrame
    from localvox.errors import AudioDeviceError

    class DyingMic:
        name = "mic"

        async def frames(self):
            for i in range(20):
                yield AudioFrame(np.zeros(512, np.float32), i * 0.032)
                await asyncio.sleep(0)
            raise AudioDeviceError("microphone disconnected (device 'USB mic' went away)")

        async def close(self) -> None:
            pass

    class BrokenWake(FakeWake):
        def process(self, samples, end_s):
            raise RuntimeError("tflite: bad model")

    engine = make_engine(None, mode="wake")
    engine.source = DyingMic()
    engine.wake = BrokenWake()
    events = await run_collect(engine)
    notices = [n.message for n in of(events, Notice)]
    assert sum("wake word detector failed" in m for m in notices) == 1   # once, not per frame
    assert any("microphone disconnected" in m for m in notices)
    assert isinstance(events[-1], SessionEnded) and events[-1].reason == "input_ended"


class PassThroughCleaner:
    """An echo canceller stand-in: the mic is already clean, so it only declares full duplex."""

    full_duplex = True

    def __init__(self) -> None:
        self.references = 0
        self.stopped = 0

    def reference(self, samples: np.ndarray, sample_rate: int) -> None:
        self.references += 1

    def clean(self, samples: np.ndarray, start_s: float) -> np.ndarray:
        return samples

    def stop_reference(self, at_s: float | None = None) -> None:
        self.stopped += 1


async def test_full_duplex_barges_in_at_normal_speaking_level():
    # The same speech level that half duplex ignores (test_own_voice_level_does_not_barge_in)
    # interrupts when an echo canceller removes the assistant's own voice.
    reply = "One two three four five six seven eight nine ten."
    audio = timeline((0.2, 0), (0.8, LOUD), (0.6, 0), (1.0, ECHO), (1.5, 0))
    engine = make_engine(audio, agent=FakeAgent(reply=reply), speculative=False)
    cleaner = PassThroughCleaner()
    engine.cleaner = cleaner
    events = await run_collect(engine)
    assert of(events, Interrupted)
    assert of(events, ReplyDone)[0].interrupted is True
    assert cleaner.stopped >= 1  # queued-but-unplayed audio is no longer "cancelled"


# Every test above runs on virtual time (see the module docstring), except the one whose
# sink plays on the wall clock (``ClockedSink``, like a sound card's callback thread).
for _name, _test in list(globals().items()):
    if _name.startswith("test_") and asyncio.iscoroutinefunction(_test) \
            and _name != "test_barge_in_with_buffered_clocked_sink":
        globals()[_name] = virtual_time(_test)
