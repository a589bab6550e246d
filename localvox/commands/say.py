"""``localvox say "TEXT" [-o out.wav]``: speak text with the local Piper voice.

The text goes through the same ``speakable`` normaliser as the assistant's replies, so
markdown, emoji and URLs are not read out literally. With ``-o`` the audio is written at
the voice's native rate; without it, it plays on the speaker (or explains how to write a
file instead when there is no sound card).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

NAME = "say"
HELP = "speak TEXT with the local Piper voice, on the speaker or into a WAV file (-o)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", nargs="+", metavar="TEXT", help='what to say ("-" reads stdin)')
    p.add_argument("-o", "--out", dest="out_path", metavar="FILE.wav", default=None,
                   help="write a WAV file instead of playing on the speaker")


async def _speak(config: Any, text: str, out_path: str | None) -> float:
    from localvox.tts.chunker import speakable
    from localvox.tts.piper import create

    words = " ".join(speakable(text).split())
    tts = create(config)
    try:
        if out_path:
            from localvox.audio.wav import write_wav

            audio = await tts.synthesize_all(words)
            write_wav(out_path, audio, tts.sample_rate)
            return len(audio) / tts.sample_rate
        from localvox.audio.device import SpeakerSink
        from localvox.errors import AudioDeviceError

        try:
            sink = SpeakerSink(config.audio.output_device,
                               block_ms=config.audio.playback_block_ms)
        except AudioDeviceError as err:
            raise AudioDeviceError(f"{err} (use -o FILE.wav to write the speech to a file)") \
                from None
        total = 0.0
        try:
            async for chunk in tts.synthesize(words):  # play sentence 1 while 2 is made
                await sink.play(chunk.samples, chunk.sample_rate)
                total += len(chunk.samples) / chunk.sample_rate
            await sink.drain()
        finally:
            await sink.close()
        return total
    finally:
        await tts.close()


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.errors import LocalvoxError

    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    out_path = args.out_path or getattr(args, "output", None)
    if not any(ch.isalnum() for ch in text):
        raise LocalvoxError("nothing to say: give some text, e.g. localvox say \"Hello\"")
    seconds = asyncio.run(_speak(config, text, out_path))
    if out_path:
        print(f"wrote {seconds:.2f} s of speech to {out_path}", file=sys.stderr)
    return 0
