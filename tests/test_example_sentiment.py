"""Sentiment escalation: the offline scorer, and three frustrated turns leading to a
warm-transfer offer with the reason, on the default offline model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localvox.agent import events as ev
from localvox.examples.sentiment import OFFER, EscalationRequest, create_app
from localvox.examples.sentiment_score import score

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text, label", [
    ("This is useless, my internet is still not working!", "frustrated"),
    ("I have been waiting for hours, this is ridiculous", "frustrated"),
    ("This is the THIRD TIME I am calling", "frustrated"),
    ("I am not happy with this", "negative"),
    ("Thank you, that helps a lot", "positive"),
    ("It's not bad at all", "positive"),
    ("It is not a problem", "positive"),
    ("What time do you open tomorrow?", "neutral"),
    ("My router has a blue light", "neutral"),
])
def test_scorer_labels(text, label):
    assert score(text).label == label


def test_negation_and_intensifiers_change_the_score():
    assert score("good").value > 0 > score("not good").value
    assert score("really bad").value < score("bad").value < 0
    assert score("TERRIBLE").value < score("terrible").value
    assert "not happy" in score("I am not happy").cues


@pytest.fixture(scope="module")
def llm():
    from localvox.config import load_config
    from localvox.examples._common import create_llm

    return create_llm(load_config())


async def _run(app, lines):
    session = await app.open_session()
    stream = session.events()
    replies = []
    for line in lines:
        text = []
        async for e in session.turn(line):
            if isinstance(e, ev.ResponseChunk):
                text.append(e.text)
        await session.idle(10)
        replies.append("".join(text))
    stream.close()
    events = [e async for e in stream]
    await app.close()
    return replies, events


@pytest.mark.models
async def test_three_frustrated_turns_offer_a_warm_transfer_with_the_reason(llm):
    lines = ["Hi, I have a question about my internet plan.",
             "This is useless, it is still not working!",
             "What does the blue light on the router mean?",
             "I have been waiting for hours, this is ridiculous.",
             "I am fed up with this terrible service.",
             "yes please",
             "hello?"]
    replies, events = await _run(create_app(None, llm=llm), lines)
    offers = [i for i, e in enumerate(events) if isinstance(e, ev.Speak) and e.text == OFFER]
    assert len(offers) == 1
    [request] = [e for e in events if isinstance(e, EscalationRequest)]
    assert "3 turns" in request.reason and "useless" in request.reason
    assert request.turns == [lines[1], lines[3], lines[4]]
    # offered only after the third frustrated turn's reply, not before
    user_turns = [i for i, e in enumerate(events)
                  if isinstance(e, ev.TranscriptUpdate) and e.role == "user"]
    assert user_turns[4] < offers[0] < user_turns[5]
    [transfer] = [e for e in events if isinstance(e, ev.TransferCall)]
    assert transfer.option.type == ev.TransferType.WARM
    assert request.reason in transfer.option.handoff_prompt
    assert lines[1] in transfer.option.handoff_prompt
    assert all(r.strip() for r in replies[:6]) and replies[6] == ""  # silent after handoff


@pytest.mark.models
async def test_calm_caller_gets_no_offer(llm):
    _, events = await _run(create_app(None, llm=llm), [
        "Hi, what are your opening hours?", "Thanks, that helps."])
    assert not any(isinstance(e, (EscalationRequest, ev.TransferCall)) for e in events)


@pytest.mark.models
def test_text_mode_on_the_default_model(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path))
    lines = ["This is useless!", "Still not working, ridiculous.", "I am fed up.", "yes"]
    proc = subprocess.run([sys.executable, "-m", "localvox", "example", "sentiment", "--text"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=180, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"agent> {OFFER}" in proc.stdout
    assert "[transferring (warm)" in proc.stdout


@pytest.mark.models
async def test_a_clear_no_to_the_offer_keeps_helping(llm):
    """Measured: "No, I don't want a supervisor" named one, and the rule transferred it;
    offered the tool, the 1.5B transferred it too. A clear no is kept from both."""
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    lines = ["This is useless, it is still not working!",
             "I have been waiting for hours, this is ridiculous.",
             "I am fed up with this terrible service.",
             "No, I don't want a supervisor, just tell me how to restart the router."]
    replies, events = await _run(create_app(config, llm=llm), lines)
    assert not any(isinstance(e, (ev.TransferCall, ev.ToolCallStart)) for e in events)
    assert replies[3].strip()


@pytest.mark.models
async def test_default_model_decides_an_unclear_answer_to_the_offer_natively(llm):
    """Hybrid: "yes" transfers at once; an answer no rule matches goes to the model with
    warm_transfer_to_supervisor offered, and the model itself makes the transfer."""
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    assert await llm.supports_tools()  # the default brain calls tools natively
    lines = ["This is useless, it is still not working!",
             "I have been waiting for hours, this is ridiculous.",
             "I am fed up with this terrible service.",
             "Fine, get me someone who can actually fix it, transfer me."]
    replies, events = await _run(create_app(config, llm=llm), lines)
    starts = [e for e in events if isinstance(e, ev.ToolCallStart)]
    assert [s.name for s in starts] == ["warm_transfer_to_supervisor"]
    assert not starts[0].call_id.startswith("policy_")  # the model's call, not the rule's
    [transfer] = [e for e in events if isinstance(e, ev.TransferCall)]
    assert transfer.option.type == ev.TransferType.WARM
