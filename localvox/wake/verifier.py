"""Second-stage wake check: Whisper listens to the window stage one fired on.

Why Whisper: openWakeWord scores ~1.3 s of embeddings with a small classifier trained on
synthetic voices; on real people (``localvox bench wake``, alexa, 318 trials, 1.58 h of real
negatives) it misses 3.8% at 0.5 with 0.63 false accepts per hour, and lowering the threshold
buys misses with false accepts. Whisper was trained on 680k hours of real speech: behind
openWakeWord at 0.02 it takes the miss rate to 0.9% with no false accept, and it needs nothing
fitted on our few recordings (positives are heard at similarity >= 0.99, negatives <= 0.6).

How: the last ``window`` of audio (stage one fires ~0.1-0.3 s after the phrase ends, so
the phrase is in it) is padded to a short encoder window (CTranslate2 accepts a cut mel,
as ``localvox.asr.whisper`` does for utterances), and decoded greedily with the wake
phrase as the previous-text prompt, which makes Whisper spell it as we do ("Alexa", not
"Alexia"). The score is the best character similarity between any run of transcript
words and the phrase; at or above ``match`` it is the wake word.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.audio.base import SAMPLE_RATE
from localvox.wake.base import Verdict

if TYPE_CHECKING:
    from localvox.config import Config

PHRASES = {"alexa": "Alexa", "hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft",
           "ok_nabu": "Okay Nabu"}
"""How each wake model's phrase is written (Whisper's prompt and the text matched)."""
MAX_TOKENS = 10
"""Decoded tokens per check: 2 s holds a few words; a longer decode is a repeat loop, and
every token costs a decoder step."""


def letters(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def phrase_similarity(heard: str, phrase: str) -> float:
    """Best similarity (0..1) of any run of 1..n+1 heard words to the phrase, spaces ignored.

    Runs of words, because Whisper splits or joins ("hey jarvis" / "hijarvis" / "a lexa").
    """
    target = "".join(letters(phrase))
    words = letters(heard)
    best = 0.0
    for n in range(1, len(letters(phrase)) + 2):
        for i in range(0, max(0, len(words) - n) + 1):
            gram = "".join(words[i:i + n])
            if gram:
                best = max(best, difflib.SequenceMatcher(None, gram, target).ratio())
    return best


class WhisperVerifier:
    """``WakeVerifier`` on a faster-whisper (CTranslate2) model.

    Args:
        model_path: a CTranslate2 Whisper folder (the ``whisper_tiny_en`` pack).
        phrase: the wake phrase as written ("Alexa").
        match: similarity at or above which the phrase counts as heard.
        encoder_s: the mel is padded to this many seconds. 30 s is Whisper's trained
            window; a short one costs a fraction (the encoder is most of the time).
        prompt: put the phrase in the previous-text prompt.
        threads: CTranslate2 intra-op threads. The model is shared with the ASR when the
            path, compute type and threads match (``localvox.asr.whisper.load_model``).
    """

    def __init__(self, model_path: str | Path, phrase: str, *, match: float = 0.8,
                 encoder_s: float = 3.0, prompt: bool = True, max_tokens: int = MAX_TOKENS,
                 threads: int = 2, compute_type: str = "int8") -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        from localvox.asr.whisper import load_model

        self.model: Any = load_model(model_path, compute_type, threads)
        self.phrase = phrase
        self.match = match
        self.encoder_s = encoder_s
        self.max_tokens = max_tokens
        m = self.model
        self._tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe",
                              language="en")
        previous = self._tok.encode(" " + phrase.strip() + ".") if prompt else []
        self._prompt = m.get_prompt(self._tok, previous, without_timestamps=True)
        self._suppress = list(get_suppressed_tokens(self._tok, [-1]))
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray) -> str:
        from faster_whisper.audio import pad_or_trim

        m = self.model
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        frames = int(round(max(self.encoder_s, len(audio) / SAMPLE_RATE) * m.frames_per_second))
        features = pad_or_trim(m.feature_extractor(audio), frames)
        with self._lock:
            enc = m.encode(features)
            res = m.model.generate(enc, [self._prompt], beam_size=1,
                                   max_length=len(self._prompt) + self.max_tokens, suppress_blank=True,
                                   suppress_tokens=self._suppress)[0]
        tokens = [t for t in res.sequences_ids[0] if t < self._tok.eot]
        return self._tok.decode(tokens).strip()

    def verify(self, audio: np.ndarray) -> Verdict:
        t0 = time.perf_counter()
        if not np.any(audio):
            return Verdict(False, 0.0, "", 0.0)
        heard = self.transcribe(audio)
        score = phrase_similarity(heard, self.phrase)
        return Verdict(score >= self.match, score, heard, time.perf_counter() - t0)


def create(config: "Config", *, model: str | None = None, **kw: Any) -> WhisperVerifier:
    """The verifier for ``[wake] model`` on ``[wake] verifier_model``."""
    from localvox.modelpacks import resolve_model

    w = config.wake
    model_id = model or w.model
    opts: dict[str, Any] = dict(match=w.verify_match, threads=config.asr.threads,
                                compute_type=config.asr.compute_type)
    opts.update(kw)
    return WhisperVerifier(resolve_model(w.verifier_model, config),
                           PHRASES.get(model_id, model_id.replace("_", " ")), **opts)
