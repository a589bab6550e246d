"""Streaming transcription: audio in through a queue, partials out, one task per utterance.

Why a task per utterance: a Whisper decode takes tens to hundreds of milliseconds and must
never block the frame loop (barge-in and endpointing decisions run every 32 ms). Frames are
queued as they arrive; the task feeds whatever has piled up, decodes a partial, and at the
endpoint returns the final transcript built on the decodes already done.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable

import numpy as np

from localvox.audio.base import SAMPLE_RATE
from localvox.pipeline.bus import EventBus
from localvox.pipeline.events import SpeechStarted, SpeechStopped
from localvox.pipeline.trace import EngineClock, TurnMarks
from localvox.vad.endpoint_events import SpeechBegan, SpeechEnded

END = object()
"""Queued after the last audio of an utterance: finish now."""


class Utterance:
    """Streaming ASR state of one utterance (``stream`` is a ``TranscriptStream``)."""

    def __init__(self, stream: Any, start_s: float, speech_at_s: float) -> None:
        self.stream = stream
        self.start_s = start_s            # stream time of the first sample fed (pre-roll)
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.partial_text = ""
        self.partial_audio_s = 0.0        # audio covered by ``partial_text``
        self.prefix = ""
        """Final text of an utterance the user continued before it was answered."""
        self.refused = ""                 # partial the agent would not speculate on
        self.force_partial = False        # speech just stopped: decode what we have now
        self.decoding = False             # a partial decode is running
        self.speech_end_s = 0.0           # stream time of the end of speech (at the endpoint)
        self.last_voiced_end = speech_at_s
        """Stream time of the end of the last voiced frame."""
        self._forced_for = -1.0
        params = inspect.signature(stream.partial).parameters
        self.can_force = "force" in params
        self.finish_takes_end = "speech_end_s" in inspect.signature(stream.finish).parameters
        self.task: asyncio.Task[Any] | None = None

    @property
    def covers_speech(self) -> bool:
        """The partial transcript reaches the last voiced frame: the user has stopped."""
        return self.start_s + self.partial_audio_s >= self.last_voiced_end - 0.02

    @property
    def text_so_far(self) -> str:
        return (self.prefix + " " + self.partial_text).strip()

    def observe(self, frame_end_s: float, voiced: bool, force_after_ms: float) -> None:
        """Track the last voiced audio; once the silence after it reaches
        ``force_after_ms``, ask for one forced decode of everything heard."""
        if voiced:
            self.last_voiced_end = frame_end_s
            self._forced_for = -1.0
            return
        silence_ms = (frame_end_s - self.last_voiced_end) * 1000.0
        if silence_ms >= force_after_ms and self._forced_for != self.last_voiced_end:
            self._forced_for = self.last_voiced_end
            self.force_partial = True

    async def transcribe(self, turn: TurnMarks, min_partial_audio_ms: float,
                         on_partial: Callable[[str], Awaitable[None]]) -> Any:
        """Feed audio as it comes, report partials, and return the final transcript."""
        fed = 0.0
        while True:
            item = await self.queue.get()
            chunks: list[np.ndarray] = []
            end = item is END
            if not end:
                chunks.append(item)  # type: ignore[arg-type]
            while not end and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is END:
                    end = True
                else:
                    chunks.append(nxt)  # type: ignore[arg-type]
            if chunks:
                block = np.concatenate(chunks)
                await self.stream.feed(block)
                fed += len(block) / SAMPLE_RATE
            if end:
                if self.finish_takes_end:
                    return await self.stream.finish(speech_end_s=self.speech_end_s - self.start_s)
                return await self.stream.finish()
            self.decoding = True
            try:
                if self.force_partial and self.can_force:
                    self.force_partial = False
                    part = await self.stream.partial(force=True)
                elif fed * 1000.0 >= min_partial_audio_ms:
                    part = await self.stream.partial()
                else:
                    part = None
            finally:
                self.decoding = False
            if part is not None and part.text.strip():
                # Reported even if the endpoint came while it decoded: it still precedes
                # the final, which ``finish`` builds from this very decode.
                text = part.text.strip()
                turn.mark("first_partial")
                self.partial_text = text
                self.partial_audio_s = part.audio_s or fed
                await on_partial(text)


class Hearing:
    """The utterance being heard (at most one) and those still being finished.

    The engine decides when an utterance begins and ends (endpointer decisions, barge-in,
    mute); this object does the bookkeeping: opens the ASR stream, stamps the turn's
    speech marks, and keeps the tasks that turn a finished utterance into a reply.
    """

    def __init__(self, bus: EventBus, clock: EngineClock, min_partial_audio_ms: float) -> None:
        self.bus = bus
        self.clock = clock
        self.min_partial_audio_ms = min_partial_audio_ms
        self.utt: Utterance | None = None
        self.turn: TurnMarks | None = None
        self.latest: Utterance | None = None
        """The utterance begun last: an older one still being transcribed hands its text on
        to it (the user went on before being answered: one turn)."""
        self._ending: list[Utterance] = []
        """Utterances being finished, in speaking order (finals are composed in order)."""
        self.finishing: set[asyncio.Task[Any]] = set()
        self.closing: set[asyncio.Task[Any]] = set()
        """Abandoned utterances whose ASR streams are being cancelled."""

    def begin(self, asr: Any, turn: TurnMarks, ev: SpeechBegan,
              on_partial: Callable[[Utterance, TurnMarks, str], Awaitable[None]]) -> bool:
        """Open the ASR stream on the onset audio (pre-roll included); False if it failed."""
        turn.mark("speech_start", self.clock.stream_to_clock(ev.at_s))
        try:
            stream = asr.stream()
        except Exception as err:  # noqa: BLE001 -- reported; the loop keeps listening
            self.bus.notice(err)
            return False
        utt = Utterance(stream, ev.audio_start_s, ev.at_s)
        self.utt, self.turn, self.latest = utt, turn, utt
        utt.queue.put_nowait(ev.audio)
        utt.task = asyncio.ensure_future(utt.transcribe(
            turn, self.min_partial_audio_ms, lambda text: on_partial(utt, turn, text)))
        self.bus.emit(SpeechStarted(turn.turn_id, ev.at_s))
        return True

    def end(self, ev: SpeechEnded,
            finish: Callable[[Utterance, TurnMarks], Awaitable[None]]) -> bool:
        """The endpoint: mark it, close the audio, run ``finish``; False if none was open."""
        utt, turn = self.utt, self.turn
        if utt is None or turn is None:
            return False
        turn.set("speech_end", self.clock.stream_to_clock(ev.speech_end_s))
        utt.speech_end_s = ev.speech_end_s
        turn.mark("endpoint")
        self.bus.emit(SpeechStopped(turn.turn_id, ev.speech_end_s))
        utt.queue.put_nowait(END)
        self.utt, self.turn = None, None
        task = asyncio.ensure_future(finish(utt, turn))
        utt.finish_task = task
        self._ending.append(utt)
        self.finishing.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self.finishing.discard(t)
            if utt in self._ending:
                self._ending.remove(utt)

        task.add_done_callback(done)
        return True

    def abandon(self) -> None:
        """Forget the utterance being heard (muted, shutting down).

        Its transcription task stops and its ASR stream is cancelled (in the background;
        ``closed()`` waits for it): a local stream drops the audio it buffered, a cloud
        stream tells the server the turn is abandoned instead of leaving it open.
        """
        utt = self.utt
        self.utt, self.turn = None, None
        if utt is None:
            return
        if utt.task is not None:
            utt.task.cancel()
        task = asyncio.ensure_future(self._cancel_stream(utt))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def _cancel_stream(self, utt: Utterance) -> None:
        if utt.task is not None:     # the stream is not fed or decoded while it is cancelled
            await asyncio.gather(utt.task, return_exceptions=True)
        cancel = getattr(utt.stream, "cancel", None)
        if cancel is None:
            return
        try:
            await cancel()
        except Exception as err:  # noqa: BLE001 -- reported; the loop keeps listening
            self.bus.notice(err, "warning")

    async def closed(self) -> None:
        """Until every abandoned stream has been cancelled."""
        while self.closing:
            await asyncio.gather(*list(self.closing), return_exceptions=True)

    async def final_text(self, utt: Utterance) -> str | None:
        """The utterance's whole text (with any continued prefix); None if the ASR failed.

        Returns only after every utterance spoken before it has been finished: under load
        a first utterance's final can come after the next one's, and its text must still
        be the start of the turn, not a reply of its own racing the next one's.
        """
        assert utt.task is not None
        try:
            final = await utt.task
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- the turn is lost, the loop goes on
            self.bus.notice(err)
            final = None
        earlier = self._ending[:self._ending.index(utt)] if utt in self._ending else []
        tasks = [u.finish_task for u in earlier if u.finish_task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if final is None:
            return None
        return (utt.prefix + " " + (final.text or "")).strip()
