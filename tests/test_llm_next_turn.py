"""The next turn's opening is read ahead: a turn evaluates only its own words.

After a reply is recorded, everything the next prompt holds before the user's words is
known: the history, the reply's end and the user turn's header. The assistant has the
model read it in the background, so the turn itself reads only the words and the closing
header (``<|im_end|>\\n<|im_start|>assistant\\n``: 5 tokens for Qwen). Without it a
follow-up re-read the reply's end and the header (5 more tokens), and a follow-up after a
routed tool turn ("What is 12 times 7?" answered by the calculator) re-read the whole
exchange: 44 tokens, 0.78 s to the first token against 0.27 s with it (1.5B, 2 threads).

Real llama.cpp with the 0.5B (same template and tokenizer family as the default 1.5B).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from localvox.agent.events import ResponseChunk
from localvox.config import load_config
from localvox.llm.llama_cpp import LlamaCppLLM, create
from tests.conftest import model_marks

pytestmark = model_marks("qwen2_5_coder_0_5b")

SYSTEM = {"role": "system", "content": "You are a voice assistant. Answer in one short sentence."}
CLOSING_HEADER = 5  # <|im_end|> \n <|im_start|> assistant \n


def _config():
    config = load_config(use_user_file=False)
    config.llm.model = "qwen2_5_coder_0_5b"
    config.llm.n_ctx = 1024
    return config


@pytest.fixture(scope="module")
def qwen() -> LlamaCppLLM:
    return create(_config())


def _new_tokens(stats: dict) -> int:
    return stats["prompt_tokens"] - stats["cached_tokens"]


async def _final(llm: LlamaCppLLM, messages: list[dict], **kw) -> dict:
    stats: dict = {}
    async for chunk in llm.chat(messages, temperature=0, **kw):
        stats = chunk.stats or stats
    return stats


def _words(llm: LlamaCppLLM, text: str) -> int:
    return len(llm._llm.tokenize(text.encode(), add_bos=False, special=True))


async def test_warm_after_a_reply_leaves_only_the_words_to_read(qwen):
    history = [SYSTEM, {"role": "user", "content": "Name a colour."}]
    await _final(qwen, history, max_tokens=8)
    # the reply as the assistant records it (the speech filter's text, not the raw tokens)
    history += [{"role": "assistant", "content": "Blue is a nice colour."}]
    await qwen.warm(history)
    question = "And another one?"
    stats = await _final(qwen, history + [{"role": "user", "content": question}],
                         max_tokens=4)
    assert _new_tokens(stats) <= _words(qwen, question) + CLOSING_HEADER


async def test_a_warm_still_queued_when_a_reply_is_asked_for_is_skipped(qwen, monkeypatch):
    """A guess at the next turn must never delay the turn itself."""
    read: list[int] = []
    extend = qwen._prefixes.extend
    monkeypatch.setattr(qwen._prefixes, "extend",
                        lambda llm, tokens: read.append(len(tokens)) or extend(llm, tokens))
    busy = threading.Event()
    blocker = qwen._run(busy.wait, 5)  # the worker is busy (a reply still generating)
    history = [SYSTEM, {"role": "user", "content": "Hi."},
               {"role": "assistant", "content": "Hello there."}]
    warm = asyncio.ensure_future(qwen.warm(history))
    await asyncio.sleep(0.05)
    reply = asyncio.ensure_future(_final(qwen, [SYSTEM, {"role": "user", "content": "Yes?"}],
                                         max_tokens=2))
    await asyncio.sleep(0.05)
    busy.set()
    await blocker
    await warm
    await reply
    assert read == []  # the queued warm returned without reading anything


async def test_follow_up_after_a_routed_tool_turn_reads_only_its_words(tmp_path: Path):
    """Through the default assistant, as ``localvox chat`` runs it: the calculator answers
    the first turn without the model, and the model reads that exchange in the background."""
    from localvox.agent.assistant import AssistantNode, create_app
    from localvox.agent.builtin_tools import BuiltinTools

    config = _config()
    llm = create(config)
    app = create_app(config, llm=llm,
                     tools_factory=lambda c: BuiltinTools(c, notes_path=tmp_path / "n.db"))
    session = await app.open_session()
    node = session.nodes[0]
    assert isinstance(node, AssistantNode)
    try:
        first = [e.text async for e in session.turn("What is 12 times 7?")
                 if isinstance(e, ResponseChunk)]
        assert "84" in "".join(first)
        await node.prepared()  # the user is still saying the next question
        follow = "And what is that plus one?"
        reply = [e.text async for e in session.turn(follow) if isinstance(e, ResponseChunk)]
        assert "".join(reply).strip()
        assert _new_tokens(llm.last_stats) <= _words(llm, follow) + CLOSING_HEADER
    finally:
        await session.close()
        await app.close()
        await llm.close()


async def _assistant(tmp_path: Path, read_ahead: bool = True):
    from localvox.agent.assistant import AssistantNode, create_app
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.pipeline.agent_port import SessionAgent

    config = _config()
    config.llm.read_ahead = read_ahead
    llm = create(config)
    app = create_app(config, llm=llm,
                     tools_factory=lambda c: BuiltinTools(c, notes_path=tmp_path / "n.db"))
    session = await app.open_session()
    node = session.nodes[0]
    assert isinstance(node, AssistantNode)
    await node.prepared()
    return llm, app, session, node, SessionAgent(session)


async def test_the_speech_loop_partial_is_read_before_the_final(tmp_path: Path):
    """Through the port the speech loop uses: the partial "What is the capital of" is read
    while the user is still talking; the final turn reads only " France?" and the header."""
    llm, app, session, node, port = await _assistant(tmp_path)
    try:
        port.prepare("What is the capital of")
        await node.prepared()
        reply = [p.text async for p in port.respond("What is the capital of France?")
                 if hasattr(p, "text")]
        assert "paris" in "".join(reply).lower()
        assert _new_tokens(llm.last_stats) <= _words(llm, " France?") + CLOSING_HEADER
    finally:
        await session.close()
        await app.close()
        await llm.close()


async def test_a_partial_the_router_claims_is_not_read(tmp_path: Path, monkeypatch):
    """A tool answers "Set a timer for five minutes": the model is left alone (its two cores
    are the speech loop's), and nothing of the partial reaches it."""
    llm, app, session, node, port = await _assistant(tmp_path)
    asked: list[str] = []
    warm = llm.warm
    monkeypatch.setattr(llm, "warm", lambda *a, **kw: asked.append(kw.get("user_so_far", ""))
                        or warm(*a, **kw))
    try:
        port.prepare("Set a timer for five minutes")
        await node.prepared()
        port.prepare("Tell me about the moon")
        await node.prepared()
        assert asked == ["Tell me about the moon"]
    finally:
        await session.close()
        await app.close()
        await llm.close()


async def test_read_ahead_off_leaves_the_model_alone(tmp_path: Path, monkeypatch):
    """``[llm] read_ahead = false``: no partial and no finished reply reaches the model
    before a turn asks for it (what ``--set llm.read_ahead=false`` measures against)."""
    llm, app, session, node, port = await _assistant(tmp_path, read_ahead=False)
    asked: list[str] = []
    warm = llm.warm
    monkeypatch.setattr(llm, "warm", lambda *a, **kw: asked.append(kw.get("user_so_far", ""))
                        or warm(*a, **kw))
    try:
        port.prepare("Tell me about the moon")
        [p async for p in port.respond("Say yes.")]
        await node.prepared()
        assert asked == []
    finally:
        await session.close()
        await app.close()
        await llm.close()
