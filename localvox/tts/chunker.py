"""Turn an LLM token stream into speakable chunks for TTS.

Two stages, both streaming and pure Python:

1. ``speakable`` normalisation: markdown, emoji and URLs are rewritten into what should be
   heard (``**bold**`` -> ``bold``, ``[docs](https://x.org/a)`` -> ``docs``,
   ``https://www.python.org/doc`` -> ``python.org``, bullets and headings become sentences,
   code blocks are skipped). Streamed text is normalised piece by piece, cutting the raw
   text only where no construct can be open (after whitespace, outside links and code
   fences, never inside a list or heading line), so the result does not depend on how
   the stream was split into tokens.
2. Chunking: the first chunk is cut at the first clause boundary (``, ; : —`` or a
   sentence end) after ``first_chunk_min_words`` words, so the first audio starts early;
   if the streamed text runs past ``first_chunk_max_words`` words with no such boundary,
   the first chunk is cut at a phrase break instead (before "and", "to", "with", ...
   where there is one, else after the ``first_chunk_max_words``-th word). Why: the first
   chunk is on every turn's critical path twice -- the LLM must produce all of it, then
   Piper must synthesise all of it before the first sample plays (170 ms p50 for the
   "TTS first chunk" stage of ``localvox bench latency`` before this rule) -- and a
   streamed sentence with no comma used to hold the first audio until its full stop.
   Later chunks are whole sentences (up to ``max_chunk_chars``), which sound more natural.
   A period only ends a sentence when whitespace follows and it is not part of a number
   (``3.5``), an abbreviation (``Dr.``, ``e.g.``, ``U.S.``), an ellipsis or a domain.

The concatenation of all chunks equals ``speakable(whole_text)`` up to whitespace.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------

_FENCE = "```"
_FENCED_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
_HOLE = "\x00"
_FENCED_PAIR = re.compile(r"```.*?```", re.S)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\(([^()\s]*)\)")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.I)
_URL_TRAIL = ".,;:!?)]}\"'"
_ITEM = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[-*+•][ \t]+|\d{1,3}[.)][ \t]+|>[ \t]?)")
_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_MAYBE_RULE = re.compile(r"^[ \t]*(?:([-*_])(?:[ \t]*\1)*)?[ \t]*$")
_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t:]*-{2,}[-| \t:]*$")
_UNDERSCORE = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
_SPACES = re.compile(r"[ \t\f\v]+")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\w) +([.,!?;:](?:\s|$))")
_END_PUNCT = ".!?:;,…"
# A line whose start may still become a list/heading marker once more text arrives.
_MAYBE_ITEM_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}|[-*+•]|\d{1,3}[.)]?|>|\|)?$")


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF
            or 0xFE00 <= cp <= 0xFE0F or cp in (0x200D, 0x20E3) or 0xE0020 <= cp <= 0xE007F
            or 0x2190 <= cp <= 0x21FF or 0x2300 <= cp <= 0x23FF or 0x25A0 <= cp <= 0x25FF)


def _url_words(match: re.Match[str]) -> str:
    """A URL as heard: its domain without scheme or ``www.``; trailing punctuation kept."""
    url = match.group(0)
    tail = ""
    while url and url[-1] in _URL_TRAIL:
        tail = url[-1] + tail
        url = url[:-1]
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.I)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    return (host or "link") + tail


_CHAR_MAP = {"&": " and ", "°": " degrees", "*": "", "`": "", "~": "", "[": "", "]": "",
             "#": "", "|": ", ", "\u00a0": " ", "\r": ""}


def _inline(text: str) -> str:
    """Normalise text within a line: links, URLs, emphasis markers, emoji."""
    text = _IMAGE_OR_LINK.sub(lambda m: m.group(1), text)
    text = _URL.sub(_url_words, text)
    text = text.replace("~~", "")
    text = _UNDERSCORE.sub("", text)
    out = []
    for ch in text:
        if _is_emoji(ch):
            continue
        out.append(_CHAR_MAP.get(ch, ch))
    return "".join(out)


def _normalise(text: str, line_start: bool = True) -> str:
    """Normalise a complete piece of text; ``line_start``: the piece begins a new line."""
    # A code block becomes a placeholder (a space in the end) that cannot form a list
    # marker with what precedes it: "- ```x```" must not turn into an empty bullet.
    text = _FENCED_BLOCK.sub(_HOLE, text.replace(_HOLE, ""))
    lines = text.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        at_start = line_start or i > 0
        item = False
        if at_start:
            if _RULE.match(line) or _TABLE_SEP.match(line):
                out.append("")
                continue
            m = _ITEM.match(line)
            if m:
                item = True
                line = line[m.end():]
            elif line.lstrip().startswith("|"):
                item = True
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", _inline(line)))
        if item:
            line = line.strip(" ,")
            if line and line[-1] not in _END_PUNCT:
                line += "."
        out.append(line)
    return "\n".join(out).replace(_HOLE, " ")


def speakable(text: str) -> str:
    """What TTS should say for ``text``: no markdown, emoji or raw URLs."""
    return _normalise(text, True)


class _StreamNormaliser:
    """``speakable`` over a stream: emits normalised text as soon as it is safe to."""

    def __init__(self) -> None:
        self._raw = ""
        self._line_start = True

    def _safe_end(self, raw: str) -> int:
        """How much of ``raw`` can be normalised now without seeing what comes next."""
        limit = len(raw)
        # An unclosed code fence: hold from the fence.
        fences = [m.start() for m in re.finditer(re.escape(_FENCE), raw)]
        if len(fences) % 2 == 1:
            limit = min(limit, fences[-1])
        # A '[' that may still become a link: hold from it.
        for m in re.finditer(r"!?\[", raw[:limit]):
            rest = raw[m.start():]
            if _IMAGE_OR_LINK.match(rest):
                continue
            if re.fullmatch(r"!?\[[^\[\]\n]*(?:\](?:\([^()\s]*)?)?", rest):
                limit = min(limit, m.start())
                break
        # Cut only just after whitespace, so words, numbers and URLs are never split; never
        # inside a complete link or code block; and never inside a line that is (or may
        # still become) a list item, heading, quote, table row or rule: such a line is
        # normalised whole, once its newline has arrived.
        spans = [(m.start(), m.end()) for m in _FENCED_PAIR.finditer(raw)]
        spans += [(m.start(), m.end()) for m in _IMAGE_OR_LINK.finditer(raw)]
        cut = limit
        while cut > 0:
            if not raw[cut - 1].isspace():
                cut -= 1
                continue
            inside = [a for a, b in spans if a < cut < b]
            if inside:
                cut = min(inside)
                continue
            if raw[cut - 1] != "\n":
                begin = raw.rfind("\n", 0, cut) + 1
                if begin > 0 or self._line_start:
                    end = raw.find("\n", cut)
                    if self._is_line_construct(raw[begin:] if end < 0 else raw[begin:end]):
                        cut = begin
                        continue
            break
        return cut

    @staticmethod
    def _is_line_construct(line: str) -> bool:
        return bool(_ITEM.match(line) or line.lstrip().startswith("|")
                    or _MAYBE_ITEM_PREFIX.match(line) or _MAYBE_RULE.match(line))

    def feed(self, text: str) -> str:
        self._raw += text
        cut = self._safe_end(self._raw)
        if cut <= 0:
            return ""
        piece, self._raw = self._raw[:cut], self._raw[cut:]
        out = _normalise(piece, self._line_start)
        self._line_start = piece.endswith("\n")
        return out

    def flush(self) -> str:
        piece, self._raw = self._raw, ""
        out = _normalise(piece, self._line_start) if piece else ""
        self._line_start = True
        return out


# --------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------

ABBREVIATIONS = frozenset("""
mr mrs ms mx dr prof sr jr st mt ft vs etc eg ie al approx appt apt ave blvd capt cf col
co corp dept est fig gen gov hon inc jan feb mar apr jun jul aug sep sept oct nov dec lt
ltd maj min misc no nos op pp rd rev sgt sq vol wk yr yrs p pg ref tel max
""".split())

_CLOSERS = "\"'”’)]}»"
_BREAK_BEFORE = frozenset("""
and but or so because for with to in on at of from that which who when where if while
than then about into after before until
""".split())
"""Words a phrase naturally starts with: the early first-chunk cut goes before one."""
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _period_ends_sentence(buf: str, i: int) -> bool:
    """Whether the '.' at ``buf[i]`` (followed by whitespace) ends a sentence."""
    if i > 0 and buf[i - 1] == ".":
        return False  # ellipsis "..."
    j = i
    while j > 0 and not buf[j - 1].isspace() and buf[j - 1] not in "(\"'“‘[":
        j -= 1
    token = buf[j:i]
    if not token:
        return True
    low = token.lower().rstrip(".")
    if low in ABBREVIATIONS:
        return False
    if token != "I" and re.fullmatch(r"(?:[^\W\d_]\.)*[^\W\d_]", token):
        return False  # initials and dotted abbreviations: "U.S.", "e.g.", "a.m.", "J."
    return True


def _boundaries(buf: str, start: int, clauses: bool, final: bool) -> list[int]:
    """Chunk end positions in ``buf[start:]``: after sentence (and optionally clause) ends.

    A boundary needs the next character to decide it (whitespace after '.', ',', ':'), so
    one at the very end of the buffer counts only when ``final``.
    """
    ends: list[int] = []
    n = len(buf)
    i = start
    while i < n:
        ch = buf[i]
        end = None
        if ch in ".!?…;:,":
            k = i + 1
            if ch in "!?":
                while k < n and buf[k] in "!?":
                    k += 1  # "?!", "!!!"
            while k < n and buf[k] in _CLOSERS:
                k += 1  # a closing quote or bracket belongs to the sentence
            if (k < n and buf[k].isspace()) or (k >= n and final):
                if ch == ".":
                    if _period_ends_sentence(buf, i):
                        end = k
                elif ch in "!?":
                    end = k
                elif ch != "…" and clauses:  # an ellipsis is a pause, never a cut
                    end = k
            i = max(k, i + 1)
        elif ch == "\n" and i + 1 < n and buf[i + 1] == "\n":
            end = i  # paragraph break
            i += 2
        elif clauses and ch in "—–":
            end = i + 1
            i += 1
        elif clauses and ch == "-" and 0 < i < n - 1 and buf[i - 1] == " " and buf[i + 1] == " ":
            end = i + 1
            i += 1
        else:
            i += 1
        if end is not None:
            ends.append(end)
    return ends


class SentenceChunker:
    """Feed LLM text deltas, get back chunks ready to speak.

    >>> c = SentenceChunker()
    >>> c.feed("Sure, Dr. Smith arrives at 3.5 pm. ") + c.feed("See you then!") + c.flush()
    ['Sure, Dr. Smith arrives at 3.5 pm.', 'See you then!']
    """

    def __init__(self, first_chunk_min_words: int = 3, max_chunk_chars: int = 220,
                 first_chunk_max_words: int = 8) -> None:
        self.first_min_words = max(1, first_chunk_min_words)
        self.first_max_words = max(self.first_min_words, first_chunk_max_words) \
            if first_chunk_max_words > 0 else 0
        self.max_chars = max(20, max_chunk_chars)
        self._norm = _StreamNormaliser()
        self._buf = ""
        self._emitted = 0

    @classmethod
    def from_config(cls, config: object) -> "SentenceChunker":
        tts = getattr(config, "tts")
        return cls(tts.first_chunk_min_words, tts.max_chunk_chars,
                   tts.first_chunk_max_words)

    def _take(self, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            buf = self._buf
            first = self._emitted == 0 and not out
            cut = None
            for end in _boundaries(buf, 0, clauses=first, final=final):
                piece = buf[:end]
                if not _has_words(piece):
                    continue  # never emit bare punctuation; carry it into the next chunk
                if first and _word_count(piece) < self.first_min_words and not _sentence_end(
                        buf, end):
                    continue
                if end > self.max_chars:
                    break
                cut = end
                break
            if first and self.first_max_words and (
                    cut is None or len(buf[:cut].split()) > self.first_max_words):
                cut = self._phrase_cut(buf) or cut
            if cut is None and len(buf.strip()) > self.max_chars:
                cut = self._forced_cut(buf)
            if cut is None:
                break
            piece = buf[:cut].strip()
            self._buf = buf[cut:].lstrip()
            if piece:
                out.append(piece)
        return out

    def _phrase_cut(self, buf: str) -> int | None:
        """First chunk only: past ``first_chunk_max_words`` complete words with no clause
        boundary, cut before the last phrase-starting word among words
        ``first_min_words .. first_max_words`` (else after word ``first_max_words``)."""
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", buf)
                 if m.end() < len(buf)]            # complete: whitespace follows
        if len(spans) <= self.first_max_words:
            return None
        words = [re.sub(r"[^\w']", "", buf[a:b]).lower() for a, b in spans]
        if not any(_has_words(w) for w in words[: self.first_max_words]):
            return None
        for k in range(self.first_max_words, self.first_min_words - 1, -1):
            if words[k] in _BREAK_BEFORE:
                return spans[k - 1][1]
        return spans[self.first_max_words - 1][1]

    def _forced_cut(self, buf: str) -> int:
        """A sentence longer than ``max_chunk_chars``: cut at a clause, else a space."""
        clause = [e for e in _boundaries(buf, 0, clauses=True, final=False)
                  if e <= self.max_chars and _has_words(buf[:e])]
        if clause:
            return clause[-1]
        space = buf.rfind(" ", 0, self.max_chars + 1)
        while space > 0 and not _has_words(buf[:space]):
            space = buf.find(" ", space + 1)
        return space if space > 0 else self.max_chars

    def feed(self, text_delta: str) -> list[str]:
        """Add LLM output; return the chunks that are now complete."""
        self._buf += self._norm.feed(text_delta)
        chunks = self._take(final=False)
        self._emitted += len(chunks)
        return chunks

    def flush(self) -> list[str]:
        """End of the reply: return whatever is left, as chunks."""
        self._buf += self._norm.flush()
        chunks = self._take(final=True)
        rest = self._buf.strip()
        self._buf = ""
        if rest:
            chunks.append(rest)
        self._emitted = 0
        return chunks

    def reset(self) -> None:
        """Drop everything buffered (barge-in)."""
        self._norm = _StreamNormaliser()
        self._buf = ""
        self._emitted = 0


def _sentence_end(buf: str, end: int) -> bool:
    """Whether the boundary at ``end`` is a sentence end (a short first sentence is fine)."""
    k = end
    while k > 0 and buf[k - 1] in _CLOSERS:
        k -= 1
    return k > 0 and buf[k - 1] in ".!?" or (end < len(buf) and buf[end:end + 1] == "\n")

