"""Take the README's screenshot of the TUI in a real conversation.

Runs the app on the real engine with a recording as the microphone (the default models), types
a question too, and saves an SVG (and a PNG when `rsvg-convert` is installed).

    .venv/bin/python scripts/screenshot.py docs/screenshot.png
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from localvox.config import load_config
from localvox.pipeline.factory import build_engine
from localvox.tui.app import LocalvoxApp
from localvox.tui.widgets.latency import LatencyPanel

ROOT = Path(__file__).resolve().parent.parent


async def main(out: Path) -> None:
    config = load_config()
    tmp = Path(tempfile.mkdtemp())

    async def factory(progress):
        return await build_engine(config, input_path=str(ROOT / "tests/fixtures/wake_then_question.wav"),
                                  output_path=str(tmp / "reply.wav"), realtime=True,
                                  progress=progress, progressive=True)

    app = LocalvoxApp(config, factory)
    async with app.run_test(size=(118, 30)) as pilot:
        for _ in range(600):
            await pilot.pause(0.1)
            if app.query_one(LatencyPanel).turns:
                break
        await pilot.press(*"set a timer for 5 minutes", "enter")
        for _ in range(300):
            await pilot.pause(0.1)
            if len(app.query_one(LatencyPanel).turns) >= 2:
                break
        await pilot.press(*"what is 15 percent of 80", "enter")
        for _ in range(300):
            await pilot.pause(0.1)
            if len(app.query_one(LatencyPanel).turns) >= 3:
                break
        await pilot.pause(0.5)
        svg = out.with_suffix(".svg")
        app.save_screenshot(filename=svg.name, path=str(svg.parent))
    if out.suffix == ".png" and shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(out)], check=True)
        svg.unlink()
    print(f"wrote {out if out.exists() else svg}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")))
