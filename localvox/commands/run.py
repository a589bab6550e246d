"""``localvox run``: the whole voice loop on a recording, headless.

Same engine as the terminal app and the latency bench; a WAV file stands in for the
microphone and another for the speaker. Prints each user transcript and reply as the turns
happen, writes the reply audio and appends one trace line per turn.

``--fast`` (default) reads the file as fast as the loop can take it, but never faster than
real time while anything computes, and each reply lasts its audio's length on the engine
clock: the trace skips the waiting but counts all compute, and the turns are those of a
live run -- a follow-up inside the window is answered, a user talking over a reply barges
in (``localvox.pipeline.clock``). ``--realtime`` paces the file and the reply audio like a
live microphone and speaker. Both give the same turns.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "run"
TIMER_GRACE_S = 30.0
"""After the recording, timers set in it that fall due within this long still ring."""
HELP = "run the voice loop on a WAV recording: transcripts, replies, reply.wav, latency trace"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", metavar="WAV", required=True,
                   help="the recording to use as the microphone")
    p.add_argument("--output", metavar="WAV", default=None,
                   help="write the assistant's speech here")
    p.add_argument("--trace", metavar="JSONL", default=None,
                   help="append per-turn latency traces here (default: [pipeline] trace_path)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--realtime", dest="realtime", action="store_true", default=False,
                      help="pace input and output like a live microphone and speaker")
    pace.add_argument("--fast", dest="realtime", action="store_false",
                      help="as fast as possible, one turn at a time (default)")
    p.add_argument("--quiet", action="store_true", help="print only transcripts and replies")


def format_latency(marks: dict[str, float]) -> str:
    from localvox.pipeline.trace import stage_latencies

    lat = stage_latencies(marks)
    if "voice_to_voice" in lat:
        parts = [f"voice-to-voice {lat['voice_to_voice']:.0f} ms"]
        for key, label in (("endpoint_wait", "endpoint"), ("final_transcript", "asr"),
                           ("llm_first_token", "llm"), ("llm_first_clause", "clause"),
                           ("tts_first_chunk", "tts")):
            if key in lat:
                parts.append(f"{label} {lat[key]:.0f}")
        return parts[0] + " (" + ", ".join(parts[1:]) + ")"
    if "text_to_voice" in lat:
        return f"text-to-voice {lat['text_to_voice']:.0f} ms"
    return ""


async def run_file(args: argparse.Namespace, config: Any) -> int:
    from localvox.pipeline import events as ev
    from localvox.pipeline.factory import build_engine, default_trace_path

    realtime = bool(args.realtime)
    trace_path = args.trace or str(default_trace_path(config))
    sink = None
    if args.output is None:          # no --output: replies are printed, their audio dropped
        from localvox.audio.null import NullSink

        sink = NullSink()
    engine = await build_engine(config, input_path=args.input, output_path=args.output or None,
                                realtime=realtime, trace_path=trace_path, sink=sink)
    engine.opts.fast_input = not realtime
    # Without --output the replies go to a silent sink that takes them at once; they still
    # last their length on the clock, as from a speaker, in both modes.
    engine.opts.play_on_clock = True
    engine.opts.timer_grace_s = TIMER_GRACE_S
    turns = 0
    async for event in _events_while_running(engine):
        if isinstance(event, ev.WakeDetected) and not args.quiet:
            print(f"(wake word {event.name}, score {event.score:.2f}, at {event.at_s:.2f} s)")
        elif isinstance(event, ev.FinalTranscript):
            print(f"you: {event.text}")
        elif isinstance(event, ev.ReplyDone):
            turns += 1
            if event.interrupted:
                said = f"{event.text} " if event.text else ""
                print(f"localvox: {said}[interrupted{'' if said else ' before speaking'}]")
            else:
                print(f"localvox: {event.text}")
        elif isinstance(event, ev.TurnTrace) and not args.quiet:
            line = format_latency(event.marks)
            if line:
                spec = f", speculative {event.speculative}" if event.speculative else ""
                print(f"  ({line}{spec})")
        elif isinstance(event, ev.Notice):
            print(f"localvox: {event.level}: {event.message}", file=sys.stderr)
    await engine.close()
    if not args.quiet:
        out = f", reply audio in {args.output}" if args.output else ""
        print(f"{turns} turn{'s' if turns != 1 else ''}; trace appended to {trace_path}{out}")
    if turns == 0:
        print("localvox: no speech turn found in the recording"
              + (" (no wake word heard; try --no-wake)" if config.wake.mode == "wake" else ""),
              file=sys.stderr)
    return 0


async def _events_while_running(engine: Any):
    import asyncio

    queue = engine.subscribe()
    task = asyncio.ensure_future(engine.run())
    try:
        while True:
            event = await queue.get()
            yield event
            if type(event).__name__ == "SessionEnded":
                break
        await task
    finally:
        if not task.done():
            await engine.stop()
            await asyncio.gather(task, return_exceptions=True)


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio

    return asyncio.run(run_file(args, config))
