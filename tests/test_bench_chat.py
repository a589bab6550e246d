"""``bench chat`` scoring rules (no model): words, language, the spoken cap, stray calls;
and the labelled sets meet the issue's size and mix."""

from __future__ import annotations

import json
from pathlib import Path

from localvox.bench.chat_score import (Conversation, detect_language, has_word, judge,
                                       load_conversations, user_tool_match)

DATA = Path(__file__).resolve().parent / "data"


def test_conversation_set_has_the_required_mix():
    convs = load_conversations(DATA / "chat_conversations.jsonl")
    kinds = {k: sum(c.kind == k for c in convs) for k in ("fact", "advice", "followup",
                                                          "chitchat")}
    assert len(convs) >= 40 and min(kinds.values()) >= 8, kinds
    assert all(len(c.turns) >= 2 for c in convs if c.kind == "followup")
    assert not any(c.tool_allowed for c in convs if c.kind == "chitchat")
    rows = [json.loads(x) for x in (DATA / "user_tool_prompts.jsonl").read_text().splitlines()]
    assert {r["app"] for r in rows} == {"weather", "bank"} and any(r["tool"] is None for r in rows)


def test_words_match_whole_words_with_inflections_but_not_other_numbers():
    assert has_word("Try restarting your laptop.", "restart")
    assert has_word("Berlín es la capital.", "berlin")
    assert not has_word("It has 80 legs.", "8") and has_word("It has 8 legs.", "8")
    assert not has_word("Parisian food", "paris")


def test_language_of_a_reply():
    assert detect_language("The capital of France is Paris.") == "en"
    assert detect_language("La capital de Alemania es Berlín.") == "es"
    assert detect_language("Je vais bien, merci ! Et vous ?") == "fr"
    assert detect_language("東京は日本の首都です。") == "other"


def test_judge_lists_every_reason():
    conv = Conversation("x", "chitchat", ["I'm bored."], [["fun", "game"]])
    ok = judge(conv, "How about a game of trivia?", 0, max_chars=320, max_sentences=6)
    assert ok["ok"] and not ok["reasons"]
    bad = judge(conv, "Je suis là. " * 40, 1, max_chars=320, max_sentences=6)
    assert not bad["ok"] and len(bad["reasons"]) == 4  # words, language, cap, tool call


def test_user_tool_match():
    assert user_tool_match("get_weather", {"location": "delhi"}, "get_weather",
                           {"location": "New Delhi, India"})
    assert not user_tool_match("get_weather", {"location": "delhi"}, "get_weather", {})
    assert user_tool_match(None, {}, None, {}) and not user_tool_match(None, {}, "end_call", {})
