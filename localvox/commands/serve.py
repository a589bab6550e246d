"""``localvox serve``: Smallest AI's Pulse/Lightning WebSocket API on local models."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "serve"
HELP = ("serve the Pulse STT and Lightning TTS WebSocket protocols offline, on local "
        "faster-whisper and Piper")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="address to listen on ([serve] host)")
    p.add_argument("--port", type=int, default=None, help="port ([serve] port, 0 = any free)")
    p.add_argument("--api-key", dest="api_keys", action="append", default=[], metavar="KEY",
                   help="accept this bearer key (repeatable; adds to [serve] api_keys)")


def run(args: argparse.Namespace, config: Any) -> int:
    import asyncio
    import logging
    import signal

    from localvox.serve.server import SpeechServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server = SpeechServer(config, api_keys=[*config.serve.api_keys, *args.api_keys])

    async def main() -> None:
        host, port = await server.start(args.host, args.port)
        print(f"localvox serve: ws://{host}:{port}  (STT /waves/v1/stt/live, "
              f"/waves/v1/pulse/get_text; TTS /waves/v1/tts/live). Ctrl-C stops.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread / Windows
                pass
        await server.serve_until(stop)
        print("localvox serve: stopped", flush=True)

    asyncio.run(main())
    return 0
