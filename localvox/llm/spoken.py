"""Shape a streamed LLM reply for the ear: no markdown, no lists, a hard length cap.

The system prompt asks for one to three short sentences, but a prompt is a request, not a
guarantee: the 1.5B model still answered "give me tips for sleeping" with a seven-item
markdown list read out as "asterisk asterisk". This filter sits between the model and the
speech chunker and makes the contract hold whatever the model does:

* markdown emphasis, headings, code ticks and list bullets are dropped; a line break that
  ends a list item becomes a sentence end, so a list is spoken as short sentences;
* at most ``max_sentences`` sentences (twice that when the user asked for detail: "explain
  in detail", "tell me more", "step by step"), and never more than ``max_chars``
  characters: past the cap the reply ends at the last complete sentence (or word), and
  ``done`` tells the caller to close the stream, which stops generation at the next token.

Text is released word by word (a word is complete once whitespace follows it), so speech
starts after the first word, not the first sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LONG_ASK = re.compile(r"\b(in detail|detailed|tell me more|more about|step by step|"
                       r"explain (?:more|fully)|elaborate|long(?:er)? (?:answer|story)|"
                       r"all the|list)\b", re.I)
_BULLET = re.compile(r"^(?:[-*+\u2022]|\d{1,2}[.)])$")
_MARKUP = re.compile(r"(\*\*|__|\*|`+|~~|^#+|\[|\]\([^)]*\)|\]|<[^>]*>)")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def wants_detail(user_text: str) -> bool:
    """Did the user ask for a longer answer?"""
    return bool(_LONG_ASK.search(user_text or ""))


@dataclass
class SpokenFilter:
    """Feed raw model text; get back what may be spoken; stop when ``done``."""

    max_sentences: int = 3
    max_chars: int = 320
    done: bool = False
    spoken: list[str] = field(default_factory=list)
    _pending: str = ""
    _chars: int = 0
    _sentences: int = 0
    _line_start: bool = True
    _last: str = ""

    @classmethod
    def for_request(cls, user_text: str, *, max_sentences: int = 3,
                    max_chars: int = 320) -> "SpokenFilter":
        if wants_detail(user_text):
            return cls(max_sentences * 2, max_chars)
        return cls(max_sentences, max_chars)

    @property
    def text(self) -> str:
        return "".join(self.spoken)

    def feed(self, piece: str) -> str:
        """Add raw text; return the speakable words now complete."""
        if self.done:
            return ""
        self._pending += piece
        out: list[str] = []
        while not self.done:
            m = re.search(r"\s", self._pending)
            if m is None:
                break
            word, ws = self._pending[:m.start()], self._pending[m.start()]
            self._pending = self._pending[m.end():]
            out.append(self._word(word, newline=ws == "\n"))
        return "".join(out)

    def finish(self) -> str:
        """End of the stream: the last word (and a period if the cap cut a sentence)."""
        if self.done:
            return ""
        word, self._pending = self._pending, ""
        text = self._word(word, newline=False, final=True)
        return text.rstrip()

    # -- internals ---------------------------------------------------------------------------
    def _word(self, word: str, *, newline: bool, final: bool = False) -> str:
        line_start = self._line_start
        self._line_start = newline or (self._line_start and not word)
        if not word:
            return self._break() if newline else ""
        if line_start and _BULLET.match(word):
            return ""
        clean = _MARKUP.sub("", word).strip()
        if not clean or clean in ("-", "--", "|"):
            return self._break() if newline else ""
        sep = " " if self.spoken and not self._last.endswith(" ") else ""
        if self._chars + len(sep) + len(clean) > self.max_chars - 1:  # room for the period
            return self._cut()
        text = sep + clean
        self._emit(text)
        if _SENTENCE_END.search(clean) and not re.fullmatch(r"\d+\.", clean):
            self._sentences += 1
            if self._sentences >= self.max_sentences:
                self.done = True
                return text
        if newline:
            text += self._break()
        return text

    def _break(self) -> str:
        """A line break ends a list item: speak it as the end of a sentence."""
        if self._last and self._last[-1].isalnum():
            self._emit(".")
            self._sentences += 1
            if self._sentences >= self.max_sentences:
                self.done = True
            return "."
        return ""

    def _cut(self) -> str:
        """Over the character cap: end here, with a period if mid-sentence."""
        self.done = True
        if self._last and self._last[-1].isalnum():
            self._emit(".")
            return "."
        return ""

    def _emit(self, text: str) -> None:
        self.spoken.append(text)
        self._chars += len(text)
        self._last = text
