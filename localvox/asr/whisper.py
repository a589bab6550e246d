"""faster-whisper (CTranslate2) backend with a window sized to the audio.

Why windowed: Whisper's encoder always sees 30 s of log-mel features; faster-whisper pads
every clip to that, so a 3 s question costs as much as 30 s of speech (~0.5 s for tiny.en
on two cores). CTranslate2's encoder accepts shorter inputs, so ``decode_windowed`` cuts
the features to the audio plus a margin of silence (rounded up to ``window_step_s``) and
calls ``encode`` + ``generate`` directly: the same text in a fraction of the time.

Short windows have one failure mode, found while building this: the decoder, not seeing
the long silence it was trained on, may run on and repeat the sentence. Four guards:
the decode runs *with* timestamp tokens and drops any segment that starts at or after the
end of the audio; the number of new tokens is capped by the audio length; a transcript
whose tail is a copy of an earlier run of its own words is cut where the copy starts
(``cut_repeat``); and when the greedy result looks unreliable (average log-probability of
the kept words below Whisper's -1.0, a repetitive compression ratio, or the cap was hit)
the clip is decoded again on faster-whisper's plain 30 s path, which also handles audio
longer than 30 s (it seeks through it in 30 s windows).

Why the copy is cut and not only detected (issue #15, part 3): the loop is the decoder's,
and it is not confined to the windowed path. Measured on a crowd-sourced coffee order
with kitchen noise at 6 dB, the windowed decode of 7.2-9.2 s of the clip (the order, then
noisy silence) came back as "I'd like a 12-ounce ... almond milk. I'd like a 12-ounce
light-ro": the repeat sits in its own segment whose start timestamp falls inside the
audio (the noise after the speech is "heard" again), it is cut off by the token cap
before it completes, and it is not one phrase said exactly twice, so none of the other
guards saw it. The plain 30 s path, which the old guards fell back to, loops the same way
("Make me a secret. Make me a secret."). Which prefix of the audio a stream decodes
depends on timing (a loaded machine decodes fewer, later partials), so the repeat came
and went with CPU load (the SDK test's "please turn on the kitchen lights please turn on
the kitchen lights"). So on the windowed path a loop is cut (``cut_repeat``) and the clip
goes to the plain path, which drops a segment that repeats the one just before it with no
pause between them (``without_loops``): a question really asked twice, apart, stays.

Vocabulary biasing (``set_bias``, :mod:`localvox.asr.bias`): the phrases the session's
tools expect go in front of every decode as Whisper's previous-text prompt, on both paths.
A stream takes the prompt in force when it opens, so one utterance is decoded with one
prompt even if the tools change while the user speaks; a transcript that only reads the
prompt back (the biased decoder's version of hallucinating on noise) counts as silence.

Streaming is :class:`~localvox.asr.whisper_stream.WhisperStream`'s (``stream()``).

n-best rescue (``rescue``, ``[asr] nbest``): a command session's prompt carries the tools'
grammar as a ``judge`` (:mod:`localvox.asr.bias`). When the greedy final is a transcript the
grammar rejects, the same window is decoded again with beam search and ``nbest``
hypotheses, and the best-scored one the grammar accepts replaces it. Measured on the 120
crowd-sourced coffee orders in kitchen noise (tiny.en; the audio of each clip's final as
the engine cut it, decoded again offline, so every variant saw the same audio):

=========================================  ======  ======  ======
final decode                               12 dB   9 dB    6 dB
=========================================  ======  ======  ======
greedy (before)                            93.3%   90.8%   76.7%
beam 5 on every final, no grammar          96.7%   92.5%   75.8%
beam 5, first of 5 the grammar accepts     97.5%   93.3%   79.2%
greedy, rescue of rejected finals (this)   97.5%   94.2%   79.2%
=========================================  ======  ======  ======

8 hypotheses, 5 sampled ones (T=0.7, top-8) or 5 more per extra window cut added nothing
or 2 clips of 240 at 9 and 6 dB. whisper_base (multilingual) as the final decoder was no
better (greedy on the same audio: 92.5% at 12 dB against tiny.en's 93.3%, 36 against 40
of the first 40 at 9 dB; stopped there, its decode time not measured).

Since session 8 a final the grammar *accepts* with words it cannot account for ("a small
latte with saueno", routed without its milk) is rescued too (``[asr] nbest_unexplained``),
and the rescue takes the hypothesis the grammar explains best, not the first it accepts: in
``bench commands``, 95 -> 99 of 120 at 6 dB (4 gained, none lost) and 114 -> 116 at 9 dB; no
SNR's count fell. The rescue runs only on such finals: a fully explained command pays the
judge (17 ms of routing warm, 37 ms cold, on the loaded machine, run in the decode thread of
the partial forced when speech stops), a rejected utterance (small talk in a command
session) one beam decode before it goes on (beam 5 took 1.4x the greedy decode's p50); open
dictation (no judge) never takes it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localvox.asr.base import Transcript
from localvox.asr.guards import (_compression_ratio, _is_repeated, _kept_positions,
                                 _token_logprobs, cut_repeat, without_loops)
from localvox.asr.bias import Bias, BiasPrompt, build_prompt, echoes_prompt, pick_hypothesis
from localvox.asr.whisper_load import load_model
from localvox.asr.whisper_stream import WhisperStream
from localvox.audio.base import SAMPLE_RATE

__all__ = ["Decoded", "WhisperStream", "WhisperTranscriber", "create", "cut_repeat",
           "load_model"]

if TYPE_CHECKING:
    from localvox.config import Config

log = logging.getLogger(__name__)
MAX_WINDOW_S = 30.0


def safe_verdict(bp: BiasPrompt, text: str) -> float:
    """The prompt's judge on ``text`` (0.0 for no text); a judge that raises counts as
    accepting every word (2.0): the greedy final stands, and the turn goes on."""
    if not text or bp.judge is None:
        return 0.0
    try:
        return float(bp.judge(text))
    except Exception as err:  # noqa: BLE001 - a tool's grammar must not break recognition
        log.warning("ASR grammar judge failed on %r: %s", text, err)
        return 2.0


@dataclass(frozen=True)
class Decoded:
    """One decode: the text and how it was obtained (for benchmarks and logs)."""

    text: str
    audio_s: float
    decode_s: float
    path: str
    """One of "windowed", "windowed-unbiased" (the prompted decode looked unreliable, the
    unprompted one did not), "plain", "plain-fallback" (windowed looked unreliable),
    "nbest" (``rescue``), "empty"."""
    window_s: float
    verdict: float | None = None
    """The prompt's grammar judge on ``text``: >= 1 accepted, 2 with every word explained
    (None: not asked)."""


class WhisperTranscriber:
    """``Transcriber`` on faster-whisper. Construct once; ``stream()`` per utterance."""

    def __init__(self, model_path: str | Path, *, name: str = "", compute_type: str = "int8",
                 threads: int = 2,
                 beam_size: int = 1, language: str = "en", windowed: bool = True,
                 partial_interval_ms: int = 500, window_margin_s: float = 2.0,
                 window_step_s: float = 2.0, bias_max_tokens: int = 128,
                 nbest: int = 5, nbest_near: float = 0.0,
                 nbest_unexplained: bool = True) -> None:
        self.model_path = Path(model_path)
        self.model = load_model(self.model_path, compute_type, threads)
        self.beam_size = max(1, beam_size)
        self.windowed = windowed
        self.partial_interval_ms = partial_interval_ms
        self.window_margin_s = window_margin_s
        self.window_step_s = window_step_s
        multilingual = bool(self.model.model.is_multilingual)
        lang = (language or "").strip().lower()
        self.language: str | None = None if lang in ("", "auto") else lang
        if not multilingual:
            self.language = "en"
        self.name = f"whisper:{name or self.model_path.name}"
        self._lock = threading.Lock()  # one decode at a time on the shared model
        self._options = self._make_options()
        self.bias_max_tokens = bias_max_tokens
        self.nbest = max(0, nbest)
        """Hypotheses for ``rescue`` (below 2: no rescue)."""
        self.nbest_near = nbest_near
        """Rescue only finals the judge puts at least this near the grammar (0: all
        rejected ones)."""
        self.nbest_unexplained = nbest_unexplained
        """Also rescue finals the grammar accepts with words it cannot account for."""
        self.prompt = BiasPrompt("", (), 0, 0)
        """The vocabulary prompt new streams decode with (``set_bias``)."""

    def set_bias(self, bias: Bias | None) -> str | None:
        """Expect these phrases from now on (None or empty: no prompt).

        Returns a one-line notice when lower-priority phrases did not fit in
        ``bias_max_tokens``, else None. Never raises for a long vocabulary.
        """
        if bias is None or bias.empty or self.bias_max_tokens <= 0:
            self.prompt = BiasPrompt("", (), 0, 0, bias.judge if bias is not None else None)
            return None
        tok = self.model.hf_tokenizer

        def encode(text: str) -> list[int]:
            return list(tok.encode(text, add_special_tokens=False).ids)

        self.prompt = build_prompt(bias, encode, self.bias_max_tokens)
        return self.prompt.notice

    # -- decoding (blocking; call from a worker thread) ---------------------------------

    def _tokenizer(self, language: str | None) -> Any:
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual,
                         task="transcribe", language=language or "en")

    def _make_options(self) -> Any:
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        tok = self._tokenizer(self.language)
        return TranscriptionOptions(
            beam_size=self.beam_size, best_of=1, patience=1.0, length_penalty=1.0,
            repetition_penalty=1.0, no_repeat_ngram_size=0, log_prob_threshold=-1.0,
            no_speech_threshold=0.6, compression_ratio_threshold=2.4,
            condition_on_previous_text=False, prompt_reset_on_temperature=0.5,
            temperatures=[0.0], initial_prompt=None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tok, [-1]), without_timestamps=False,
            max_initial_timestamp=1.0, word_timestamps=False, prepend_punctuations="",
            append_punctuations="", multilingual=False, max_new_tokens=None,
            clip_timestamps=[0.0], hallucination_silence_threshold=None, hotwords=None)

    def window_for(self, audio_s: float) -> float:
        """Encoder window for a clip: the audio plus a margin, rounded up, at most 30 s."""
        w = math.ceil((audio_s + self.window_margin_s) / self.window_step_s) * self.window_step_s
        return min(MAX_WINDOW_S, w)

    def decode(self, samples: np.ndarray, *, windowed: bool | None = None,
               prompt: BiasPrompt | None = None, judge: bool = False) -> Decoded:
        """Decode a whole clip (16 kHz mono float32) on the configured or requested path.

        ``prompt`` (default: the current ``set_bias`` prompt) biases the decode; ``judge``
        also asks the prompt's grammar judge (if any) about the text, in this thread.
        """
        bp = self.prompt if prompt is None else prompt
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        audio_s = len(audio) / SAMPLE_RATE
        t0 = time.perf_counter()
        if audio_s < 0.1 or not np.any(audio):
            return Decoded("", audio_s, 0.0, "empty", 0.0)
        use_window = self.windowed if windowed is None else windowed
        with self._lock:
            if use_window and audio_s + self.window_margin_s <= MAX_WINDOW_S:
                text, window_s, reliable = self._decode_windowed(audio, bp)
                path = "windowed"
                if not reliable and bp.tokens:
                    # A prompted decoder may read on through the prompt's list after the
                    # speech (measured: 2 of 5 prefixes of a coffee order hit the token
                    # cap that way). The same window without the prompt costs ~0.1 s of
                    # CPU; the plain 30 s path costs ~1.2 s (tiny.en, two cores).
                    text, window_s, reliable = self._decode_windowed(audio, None)
                    path = "windowed-unbiased"
                if not reliable:
                    text, path, window_s = self._decode_plain(audio, bp), "plain-fallback", 30.0
            else:
                text, path, window_s = self._decode_plain(audio, bp), "plain", 30.0
        if bp.text and echoes_prompt(text, bp.text):
            text = ""
        verdict = safe_verdict(bp, text) if judge and bp.judge is not None else None
        return Decoded(text, audio_s, time.perf_counter() - t0, path, window_s, verdict)

    def wants_rescue(self, verdict: float) -> bool:
        """Whether a final with this judge verdict gets the n-best rescue: rejected (< 1)
        and at least ``nbest_near`` close to the grammar, or (``nbest_unexplained``)
        accepted with words the grammar cannot account for (< 2)."""
        below = 2.0 if self.nbest_unexplained else 1.0
        return self.nbest > 1 and self.nbest_near <= verdict < below

    def rescue(self, samples: np.ndarray, prompt: BiasPrompt | None = None,
               beat: float = 0.0) -> Decoded | None:
        """Of ``nbest`` beam hypotheses, the one the prompt's grammar accepts with the most
        words explained (the best-scored among equals), if that beats ``beat`` (the greedy
        final's verdict); else None.

        For a final the grammar rejected or explains only in part (the module docstring
        has the figures). Only the windowed path (audio up to ~28 s: a spoken command); no
        judge, no rescue.
        """
        bp = self.prompt if prompt is None else prompt
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        audio_s = len(audio) / SAMPLE_RATE
        if bp.judge is None or self.nbest < 2 or audio_s < 0.1 or \
                audio_s + self.window_margin_s > MAX_WINDOW_S:
            return None
        t0 = time.perf_counter()
        with self._lock:
            hyps = self.decode_nbest(audio, bp, self.nbest)
        heard = [h for h in hyps if not (bp.text and echoes_prompt(h, bp.text))]
        picked = pick_hypothesis(heard, lambda text: safe_verdict(bp, text), beat)
        if picked is None:
            return None
        return Decoded(picked[0], audio_s, time.perf_counter() - t0, "nbest",
                       self.window_for(audio_s), picked[1])

    def decode_nbest(self, audio: np.ndarray, bp: BiasPrompt | None, n: int) -> list[str]:
        """``n`` beam-search hypotheses of the windowed decode, best score first, each
        through the same segment and loop guards as ``_decode_windowed``. Hold the lock."""
        m = self.model
        audio_s = len(audio) / SAMPLE_RATE
        encoder_output, tokenizer, prompt, cap = self._prepare(audio, bp)
        result = m.model.generate(
            encoder_output, [prompt], beam_size=max(n, self.beam_size), num_hypotheses=n,
            max_length=len(prompt) + cap, return_scores=True, suppress_blank=True,
            suppress_tokens=list(self._options.suppress_tokens),
            max_initial_timestamp_index=int(round(1.0 / m.time_precision)))[0]
        out = []
        for seq in result.sequences_ids:
            tokens = list(seq)
            kept = _kept_positions(tokens, tokenizer.timestamp_begin, m.time_precision, audio_s)
            said = tokenizer.decode([tokens[i] for i in kept
                                     if tokens[i] < tokenizer.timestamp_begin]).strip()
            out.append(cut_repeat(said))
        return out

    def _decode_plain(self, audio: np.ndarray, bp: BiasPrompt | None = None) -> str:
        """faster-whisper's normal path: 30 s windows, seeking through longer audio."""
        initial = list(bp.tokens) if bp is not None and bp.tokens else None
        segments, _ = self.model.transcribe(audio, language=self.language,
                                            beam_size=self.beam_size, vad_filter=False,
                                            condition_on_previous_text=False,
                                            initial_prompt=initial)
        return " ".join(without_loops(segments)).strip()

    def _prepare(self, audio: np.ndarray, bp: BiasPrompt | None) -> tuple[Any, Any, list[int], int]:
        """The windowed decode's encoder output, tokenizer, decoder prompt and token cap."""
        from faster_whisper.audio import pad_or_trim

        m = self.model
        audio_s = len(audio) / SAMPLE_RATE
        frames = int(round(self.window_for(audio_s) * m.frames_per_second))
        features = pad_or_trim(m.feature_extractor(audio), frames)
        encoder_output = m.encode(features)
        language = self.language
        if language is None:  # multilingual model, language "auto"
            lang_token, _ = m.model.detect_language(encoder_output)[0][0]
            language = lang_token[2:-2]
        tokenizer = self._tokenizer(language)
        prompt = m.get_prompt(tokenizer, list(bp.tokens) if bp is not None else [],
                              without_timestamps=False)
        # Speech rarely exceeds ~5 tokens/s; the cap bounds a runaway decoder.
        return encoder_output, tokenizer, prompt, int(8 * audio_s) + 16

    def _decode_windowed(self, audio: np.ndarray,
                         bp: BiasPrompt | None = None) -> tuple[str, float, bool]:
        """encode + generate on features cut to ``window_for``; returns (text, window, ok)."""
        m = self.model
        audio_s = len(audio) / SAMPLE_RATE
        window_s = self.window_for(audio_s)
        encoder_output, tokenizer, prompt, cap = self._prepare(audio, bp)
        result = m.model.generate(
            encoder_output, [prompt], beam_size=self.beam_size, max_length=len(prompt) + cap,
            return_scores=True, return_logits_vocab=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=list(self._options.suppress_tokens),
            max_initial_timestamp_index=int(round(1.0 / m.time_precision)))[0]
        tokens = list(result.sequences_ids[0])
        logprobs = _token_logprobs(result.logits[0], tokens)
        if result.no_speech_prob > 0.6 and (not tokens or float(np.mean(logprobs)) < -1.0):
            return "", window_s, True  # silence or noise: Whisper's own no-speech rule
        kept = _kept_positions(tokens, tokenizer.timestamp_begin, m.time_precision, audio_s)
        said = tokenizer.decode([tokens[i] for i in kept
                                 if tokens[i] < tokenizer.timestamp_begin]).strip()
        text = cut_repeat(said)
        # Judge the words kept: a repeat after the end of the audio is dropped anyway.
        words = [i for i in kept if tokens[i] < tokenizer.timestamp_begin]
        avg_logprob = float(np.mean(logprobs[words])) if words else -10.0
        runaway = len(tokens) >= cap and (not kept or kept[-1] == len(tokens) - 1)
        # A loop (cut above) is judged by the plain path, which sees segment times: a
        # sentence really said twice, apart, stays twice there; a loop does not.
        reliable = (bool(text) and text == said and not runaway and avg_logprob >= -1.0
                    and _compression_ratio(text) <= 2.4 and not _is_repeated(text))
        return text, window_s, reliable

    # -- the Transcriber contract --------------------------------------------------------

    def stream(self) -> "WhisperStream":
        return WhisperStream(self, self.partial_interval_ms)

    async def transcribe(self, samples: np.ndarray, *, windowed: bool | None = None) -> Transcript:
        d = await asyncio.to_thread(self.decode, samples, windowed=windowed, judge=True)
        if d.verdict is not None and self.wants_rescue(d.verdict):
            better = await asyncio.to_thread(self.rescue, samples, self.prompt, d.verdict)
            if better is not None:
                return Transcript(better.text, True, d.audio_s, d.decode_s + better.decode_s)
        return Transcript(d.text, True, d.audio_s, d.decode_s)


def create(config: "Config", **kwargs: Any) -> WhisperTranscriber:
    from localvox.modelpacks import resolve_model

    a = config.asr
    path = resolve_model(a.model, config)
    opts: dict[str, Any] = dict(name=a.model if "/" not in a.model else path.name,
                                compute_type=a.compute_type, threads=a.threads,
                                beam_size=a.beam_size, language=a.language,
                                windowed=a.windowed, partial_interval_ms=a.partial_interval_ms,
                                bias_max_tokens=a.bias_max_tokens, nbest=a.nbest,
                                nbest_near=a.nbest_near,
                                nbest_unexplained=a.nbest_unexplained)
    opts.update(kwargs)
    return WhisperTranscriber(path, **opts)
