"""Scoring for ``localvox bench chat``: labelled conversations and user-tool prompts.

A conversation (one JSON object per line of ``tests/data/chat_conversations.jsonl``)::

    {"id": "times-then-plus", "kind": "followup",
     "turns": ["What is 12 times 7?", "And what is that plus one?"],
     "expect": [["85", "eighty-five"]], "language": "en", "tool_allowed": false}

The *last* reply is right when every ``expect`` group has one of its words in it (whole
words, case-insensitive), it is in ``language``, it stays within the spoken cap, and --
for chit-chat, and any conversation not marked ``tool_allowed`` -- no tool was called by the
*model* (chit-chat that sets a timer is wrong however nice the sentence; "what is 12 times
7" routed to the calculator by the intent router is the assistant working as designed). Kept apart from the runner so the rules are
tested without a model.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("fact", "advice", "followup", "chitchat")

# Frequent function words per language: enough to tell a reply's language apart.
_STOPWORDS = {
    "en": "the a an is are was of and to in it you that for with on i your can this be at "
          "what have my do not it's there they he she we me or as so if but about".split(),
    "es": "el la los las de que y en es un una por con para del se su está muy lo como "
          "pero más hola gracias sí".split(),
    "fr": "le la les de des et est un une je vous en du que pas pour bien ça suis très "
          "merci bonjour il elle nous tu mais avec".split(),
    "de": "der die das und ist nicht ich sie es ein eine zu mit auf für den dem wie auch "
          "hallo danke".split(),
    "it": "il lo gli di che e è un una per con non sono della ciao grazie".split(),
    "pt": "o os as de que e é um uma para com não do da em olá obrigado".split(),
}


def detect_language(text: str) -> str:
    """Best-guess language code of a reply ("en", "es", ... or "other" for other scripts)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if latin / len(letters) < 0.5:
        return "other"
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _STOPWORDS.items()}
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    return best if scores[best] > 0 else "en"


def has_word(text: str, word: str) -> bool:
    """``word`` (or phrase) occurs in ``text`` as whole words, ignoring case and accents;
    a word may take an inflection ("restart" matches "restarting"), a number may not
    ("8" does not match "80")."""
    norm = _fold(text)
    target = _fold(word)
    suffix = r"(?:s|es|d|ed|ing)?" if target[-1:].isalpha() else ""
    return re.search(rf"(?<![\w]){re.escape(target)}{suffix}(?![\w])", norm) is not None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("-", " "))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def count_sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()])


@dataclass
class Conversation:
    id: str
    kind: str
    turns: list[str]
    expect: list[list[str]] = field(default_factory=list)
    language: str = "en"
    tool_allowed: bool = False


def load_conversations(path: str | Path) -> list[Conversation]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not row.get("turns") or row.get("kind") not in KINDS:
            raise ValueError(f"{path}:{n}: each conversation needs turns and a kind in {KINDS}")
        out.append(Conversation(row["id"], row["kind"], list(row["turns"]),
                                [list(g) for g in row.get("expect", [])],
                                row.get("language", "en"), bool(row.get("tool_allowed"))))
    return out


def judge(conv: Conversation, reply: str, tool_calls: int, *, max_chars: int,
          max_sentences: int) -> dict[str, Any]:
    """Score the last reply of one conversation; every reason it failed is listed."""
    reasons = []
    missing = [g for g in conv.expect if not any(has_word(reply, w) for w in g)]
    if missing:
        reasons.append("missing " + " / ".join("|".join(g) for g in missing))
    language = detect_language(reply)
    if language != conv.language:
        reasons.append(f"language {language}, want {conv.language}")
    over = len(reply) > max_chars or count_sentences(reply) > max_sentences
    if over:
        reasons.append(f"over the spoken cap ({len(reply)} chars, "
                       f"{count_sentences(reply)} sentences)")
    if not reply.strip():
        reasons.append("empty reply")
    if tool_calls and not conv.tool_allowed:
        reasons.append(f"{tool_calls} tool call(s) on a conversation that needs none")
    return {"id": conv.id, "kind": conv.kind, "ok": not reasons, "reply": reply,
            "language": language, "over_cap": over, "tool_calls": tool_calls,
            "reasons": reasons}


def user_tool_match(want_tool: str | None, want_args: dict[str, Any], got_tool: str | None,
                    got_args: dict[str, Any]) -> bool:
    """Right tool, and each labelled argument contained in the model's (case-insensitive)."""
    if want_tool != got_tool:
        return False
    for key, value in want_args.items():
        if key not in got_args or _fold(str(value)) not in _fold(str(got_args[key])):
            return False
    return True
