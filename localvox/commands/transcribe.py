"""``localvox transcribe FILE.wav``: print what was said in a recording.

Any common WAV (rate, width, channels) is converted to 16 kHz mono first. The decode uses
the window sized to the audio unless ``--plain`` asks for faster-whisper's usual 30 s
window (for comparing speed and accuracy).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAME = "transcribe"
HELP = "print the transcript of a WAV file (local Whisper)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.wav", help="the recording to transcribe")
    p.add_argument("--plain", action="store_true",
                   help="decode on faster-whisper's fixed 30 s window (slower; for comparison)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print audio length, decode time and path to stderr")


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.audio.wav import read_wav

    audio = read_wav(args.file)  # AudioFileError (one line) on anything that is not a WAV
    from localvox.asr.whisper import create

    transcriber = create(config, windowed=not args.plain and config.asr.windowed)
    result = transcriber.decode(audio)
    if args.verbose:
        window = f", {result.window_s:g} s window" if result.window_s else ""
        print(f"{result.audio_s:.2f} s of audio decoded in {result.decode_s:.3f} s "
              f"({result.path}{window}, {transcriber.name})", file=sys.stderr)
    if not result.text:
        print(f"localvox: no speech found in {args.file}", file=sys.stderr)
        return 0
    print(result.text)
    return 0
