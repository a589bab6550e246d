"""An offline, lexicon-based sentiment scorer tuned for frustrated callers.

Small on purpose: a few hundred words with valences (in the spirit of VADER), negation
that flips the next few words ("not happy", "never works"), intensifiers ("really",
"so"), shouting (ALL CAPS, "!!") and multi-word frustration cues ("waste of time",
"third time", "speak to a human"). No model, no network, microseconds per turn, and
every decision is explainable through ``Score.cues``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LEXICON: dict[str, float] = {
    # positive
    "good": 1.5, "great": 2.5, "excellent": 3.0, "thanks": 1.5, "thank": 1.5, "happy": 2.0,
    "perfect": 2.5, "helpful": 2.0, "nice": 1.5, "love": 2.5, "awesome": 2.5, "fine": 0.8,
    "resolved": 1.5, "works": 1.0, "working": 0.8, "appreciate": 2.0, "wonderful": 2.5,
    "glad": 1.8, "ok": 0.3, "okay": 0.3, "fast": 1.0, "easy": 1.2, "fixed": 1.5,
    # negative
    "bad": -1.8, "terrible": -3.0, "awful": -3.0, "horrible": -3.0, "worst": -3.2,
    "useless": -2.8, "pathetic": -3.0, "ridiculous": -2.6, "stupid": -2.5, "hate": -3.0,
    "angry": -2.8, "annoyed": -2.3, "annoying": -2.3, "frustrated": -2.8, "frustrating": -2.8,
    "upset": -2.3, "disappointed": -2.3, "disappointing": -2.3, "unacceptable": -2.8,
    "slow": -1.2, "broken": -2.0, "wrong": -1.6, "problem": -1.2, "issue": -0.8,
    "fail": -2.0, "failed": -2.0, "failing": -2.0, "nonsense": -2.5, "rubbish": -2.5,
    "incompetent": -3.0, "joke": -1.5, "sick": -1.8, "tired": -1.5, "fed": -0.5,
    "waiting": -0.8, "waste": -2.2, "wasted": -2.2, "again": -0.4,
    "cancel": -1.2, "complaint": -1.8, "complain": -1.8, "scam": -3.0, "cheated": -3.0,
    "mess": -2.0, "hopeless": -2.8, "furious": -3.2, "disgusting": -3.0, "sucks": -2.8,
    "still": -0.4, "lost": -1.2, "charged": -0.8, "overcharged": -2.5,
}

PHRASES: dict[str, float] = {
    "waste of time": -3.0, "fed up": -3.0, "sick of": -2.8, "sick and tired": -3.2,
    "third time": -2.2, "second time": -1.2, "how many times": -2.6, "not working": -2.4,
    "doesn't work": -2.4, "does not work": -2.4, "still not": -2.2, "speak to a human": -1.8,
    "talk to a human": -1.8, "real person": -1.6, "your manager": -1.8, "a supervisor": -1.2,
    "no help": -2.4, "not helpful": -2.4, "makes no sense": -2.2, "are you kidding": -2.6,
    "give up": -2.4, "had enough": -2.8, "for hours": -1.8, "for weeks": -1.8,
    "thank you": 1.8, "that helps": 2.0, "that worked": 2.2, "all good": 2.0,
}

NEGATIONS = {"not", "no", "never", "isn't", "isnt", "wasn't", "don't", "dont", "doesn't",
             "doesnt", "didn't", "didnt", "can't", "cant", "cannot", "won't", "wont",
             "hardly", "nothing", "neither", "nor", "aren't", "haven't"}
INTENSIFIERS = {"very": 1.4, "really": 1.4, "so": 1.3, "extremely": 1.6, "totally": 1.4,
                "completely": 1.5, "absolutely": 1.5, "too": 1.2, "utterly": 1.6, "super": 1.4}
DAMPENERS = {"slightly": 0.6, "somewhat": 0.7, "a bit": 0.7, "kind": 0.8, "little": 0.7}

NEGATION_WINDOW = 3
FRUSTRATED_BELOW = -2.0
NEGATIVE_BELOW = -0.6
POSITIVE_ABOVE = 0.6

_TOKEN = re.compile(r"[A-Za-z']+|!+|\?+")


@dataclass(frozen=True)
class Score:
    value: float
    label: str  # "positive" | "neutral" | "negative" | "frustrated"
    cues: tuple[str, ...] = field(default=())

    @property
    def frustrated(self) -> bool:
        return self.label in ("negative", "frustrated")


def score(text: str) -> Score:
    """Score one user turn. Negative sums mean unhappy; see the module doc for the rules."""
    raw = text.strip()
    lowered = " " + " ".join(re.findall(r"[a-z']+", raw.lower())) + " "
    total, cues = 0.0, []
    for phrase, val in PHRASES.items():
        n = lowered.count(f" {phrase} ")
        if n:
            total += val * n
            cues.append(phrase)
            lowered = lowered.replace(f" {phrase} ", " ")
    tokens = _TOKEN.findall(raw)
    words = [t.lower() for t in tokens]
    phrase_words = {w for p in cues for w in p.split()}
    negate_left = 0
    boost = 1.0
    for i, (tok, word) in enumerate(zip(tokens, words)):
        if word.startswith("!"):
            if total < 0:
                total -= 0.4 * min(len(word), 3)
            continue
        if word in NEGATIONS and word not in LEXICON:
            negate_left = NEGATION_WINDOW
            continue
        if word in INTENSIFIERS:
            boost = INTENSIFIERS[word]
            continue
        if word in DAMPENERS:
            boost = DAMPENERS[word]
            continue
        val = LEXICON.get(word)
        if val is None and word.endswith("s"):
            val = LEXICON.get(word[:-1])  # "problems" -> "problem"
        if val is not None and word not in phrase_words:
            v = val * boost
            if tok.isupper() and len(tok) > 2:
                v *= 1.5  # shouting
            if negate_left and word not in NEGATIONS:
                # "not good" is bad, but "not bad" is only mildly good
                v = -v * (0.5 if v < 0 else 0.9)
                cues.append(f"not {word}")
            else:
                cues.append(word)
            total += v
        boost = 1.0
        if negate_left and word not in NEGATIONS:
            negate_left -= 1
    caps = sum(1 for t in tokens if t.isupper() and len(t) > 2)
    if caps >= 2 and total < 0:
        total -= 1.0
        cues.append("shouting")
    if total <= FRUSTRATED_BELOW:
        label = "frustrated"
    elif total <= NEGATIVE_BELOW:
        label = "negative"
    elif total >= POSITIVE_ABOVE:
        label = "positive"
    else:
        label = "neutral"
    return Score(round(total, 2), label, tuple(cues))
