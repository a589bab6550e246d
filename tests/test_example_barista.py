"""``localvox example barista``: a grammar-typed order tool, fuzzy slots, a read-back, the
drink asked for when missing, and nothing ordered for small talk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from localvox.agent import events as ev
from localvox.config import load_config
from localvox.examples.barista import create_app
from localvox.llm.base import ChatChunk

REPO = Path(__file__).resolve().parent.parent


class ChatOnly:
    """A stand-in model for small talk; it must never be offered tools."""

    name = "chat-only"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def chat(self, messages: Any, tools: Any = None, **kw: Any) -> Any:
        self.calls.append(tools)
        yield ChatChunk(content="Here's one: why did the coffee file a police report? "
                                "It got mugged.", finish_reason="stop")

    async def close(self) -> None:
        return None


async def turn(session: Any, text: str) -> tuple[list[Any], str]:
    calls, said = [], []
    async for e in session.turn(text):
        if isinstance(e, ev.ToolCallStart):
            calls.append(e)
        elif isinstance(e, (ev.ResponseChunk, ev.Speak)):
            said.append(e.text)
    return calls, "".join(said)


async def test_a_misheard_order_is_made_and_read_back() -> None:
    app = create_app(load_config(use_user_file=False), llm=ChatOnly())
    session = await app.open_session()
    try:
        calls, said = await turn(session, "Can I get a large light rose double shot ice mocha "
                                          "with a lot of soy milk?")
        assert [c.name for c in calls] == ["order_drink"]
        import json

        assert json.loads(calls[0].arguments) == {
            "size": "large", "roast": "light roast", "shots": "double shot",
            "coffee_drink": "iced mocha", "milk": "a lot of soy milk"}
        assert said == ("A large light roast double shot iced mocha with a lot of soy milk. "
                        "Coming right up.")
        assert "One moment" not in said  # the tool is instant: no holding phrase
    finally:
        await app.close()


async def test_small_talk_orders_nothing_and_an_order_without_a_drink_asks_for_it() -> None:
    llm = ChatOnly()
    app = create_app(load_config(use_user_file=False), llm=llm)
    session = await app.open_session()
    try:
        calls, said = await turn(session, "Tell me a joke")
        assert calls == [] and "mugged" in said
        assert llm.calls == [None]  # the model got no tools
        calls, said = await turn(session, "A twelve ounce with some whole milk please")
        assert calls == [] and said.startswith("Which drink would you like?")
        calls, said = await turn(session, "A cappuccino")
        assert [c.name for c in calls] == ["order_drink"]
        assert said.startswith("A twelve ounce cappuccino with some whole milk.")
    finally:
        await app.close()


def test_the_cli_runs_the_barista_in_text_mode() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "localvox", "example", "barista", "--text"],
        input="I'd like a medium dark roast americano with sweetener\n", capture_output=True,
        text=True, timeout=180, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "A medium dark roast americano with sweetener. Coming right up." in proc.stdout
