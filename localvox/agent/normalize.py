"""Normalising an utterance before matching: lower case, no fillers, no polite wrapping.

Why a module of its own: every matcher downstream (the request guard, the templates, the
cue fallback, user-tool argument filling and the slot parsers) reads the same normalized
text, so the speech-specific clean-up lives in one function rather than in each of them.
ASR gives lower case without punctuation and with "um"s, people type "whats" for "what's",
and a request is often wrapped in "hey jarvis, could you ..." or "do you know ...".
"""

from __future__ import annotations

import re

__all__ = ["normalize"]

_OPENERS = re.compile(
    r"^(?:(?:hey|hi|ok|okay) (?:jarvis|localvox|mycroft|nabu|alexa)|jarvis|localvox|alexa|hey|"
    r"okay|ok|so|um+|uh+|er|well|please|and|could you|can you|would you|will you|"
    r"(?:i'd like|i want|i need) (?:you )?to(?! remember\b)|go ahead and|quickly|just|"
    r"(?:tell me|let me know)(?! (?:in|when|after|at)\b)|do me a favou?r and|right|alright|"
    r"all right|oh|now|actually|"
    r"excuse me|sorry|quick question|one more thing|also|then)\b[ ,]*")
# indirect questions: "remind me which day it is", "do you know if it's going to rain" ->
# the question itself (only when a question follows, so "remind me in 5 minutes" stays)
_INDIRECT = re.compile(
    r"^(?:remind me|do you know|do you happen to know|can you tell me|could you tell me|"
    r"any idea|i wonder|i was wondering|i'd like to know|i want to know|i need to know|"
    r"i'd love to know|tell me|let me know|quick question|know)[ ,]+"
    r"(?=(?:what|what's|which|how|how's|when|if|whether|is|are|will|do|does|the)\b)")
_CLOSERS = re.compile(r"[ ,]*\b(?:please|thanks|thank you|for me|real quick|quickly|"
                      r"if you can|if you could|if you don't mind|mate|buddy|jarvis|"
                      r"right now please|okay|ok)$")
# spoken fillers anywhere, not only at the start ("what's um the time")
_FILLERS = re.compile(r"\b(?:um+|uh+|uhm+|erm+|er+|hmm+|ah+|eh)\b[ ,]*")
# contractions typed or transcribed without the apostrophe
_CONTRACTIONS = {
    "whats": "what's", "hows": "how's", "wheres": "where's", "whens": "when's",
    "thats": "that's", "todays": "today's", "tomorrows": "tomorrow's", "dont": "don't",
    "doesnt": "doesn't", "didnt": "didn't", "im": "i'm", "ive": "i've", "cant": "can't",
    "isnt": "isn't", "arent": "aren't", "theres": "there's", "whos": "who's",
    "its": "it's", "id": "i'd", "ill": "i'll", "wont": "won't", "whatre": "what're",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "whats's": "what's",
}
_GERUNDS = {
    (v + v[-1] + "ing" if v in ("set", "put", "get", "stop", "jot") else
     v[:-1] + "ing" if v.endswith("e") else v + "ing"): v
    for v in ("set start make tell check turn add take write read convert calculate cancel "
              "delete remove wake remind give put get stop save note jot list show work "
              "figure clear count time create").split()}
_GERUNDS["cancelling"] = "cancel"
_CONTRACTION_RE = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b")


def normalize(text: str) -> str:
    """Lower-case, straight quotes, no fillers, outer punctuation or polite openers/closers.

    Written for speech: ASR gives lower case without punctuation and with "um"s, people
    type "whats" for "what's", and a request is often wrapped in "do you know ..." or
    "remind me ..." — all of which is removed so the templates see the request itself.
    """
    t = text.lower().replace("’", "'").replace("‘", "'").replace("“", "").replace("”", "")
    # Undecodable bytes (U+FFFD), emoji and stray symbols carry no words: drop them so a
    # garbled prefix cannot hide "what time is it" from the anchored request patterns.
    t = re.sub(r"[^\w\s'.,?!:;%$£€+\-*/^=()]", " ", t)
    t = re.sub(r"^(?:[\s\-.,;:!?)]|\(\s)+", "", t)
    t = re.sub(r"\s+", " ", t).strip().strip(" .?!,")
    t = t.replace(",", " ").replace(";", " ").replace("  ", " ")
    t = _FILLERS.sub("", t)
    t = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], t)
    t = re.sub(r"\s+", " ", t).strip(" .?!,")
    for _ in range(5):
        new = _CLOSERS.sub("", _INDIRECT.sub("", _OPENERS.sub("", t))).strip(" .?!,:")
        # "would you mind setting a timer" -> "set a timer"
        new = re.sub(r"^(?:(?:would|do|could) you )?mind (\w+ing)\b",
                     lambda m: _GERUNDS.get(m.group(1), m.group(1)), new)
        # "(if|whether) it's going to rain" -> "is it going to rain"
        new = re.sub(r"^(?:if|whether) (it|there)(?: is|'s) ", r"is \1 ", new)
        new = re.sub(r"^(?:if|whether) (it|there) will ", r"will \1 ", new)
        new = re.sub(r"^(?:if|whether) (i|we) (need|should)\b", r"do \1 \2", new)
        new = re.sub(r"^(what|which) (time|day|date|hour) it is\b", r"\1 \2 is it", new)
        if new == t:
            break
        t = new
    return t
