"""Smart Turn v3.2: preprocessing identical to Pipecat's, verdicts on real speech, and the
endpointer's use of a judge (never waiting for it, falling back to silence).

The endpointer tests drive it with hand-written probabilities and a scripted judge so
every frame is exact; the model tests use the pack's ONNX file and ../shared/speech.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_models, require_speech

from localvox.audio.base import SAMPLE_RATE
from localvox.config import EndpointConfig, load_config
from localvox.vad.endpoint import Endpointer, create
from localvox.vad.endpoint_events import SpeechEnded

FRAME = 512
FRAME_MS = FRAME * 1000 / SAMPLE_RATE


@pytest.fixture
def cfg() -> EndpointConfig:
    """Smart Turn alone (Pipecat's 200 ms at 0.5); the agree policy, the default, is built
    from it by ``agree_cfg``."""
    return alone(load_config(use_user_file=False).endpoint)


def alone(cfg: EndpointConfig) -> EndpointConfig:
    import dataclasses

    return dataclasses.replace(cfg, smart_turn_agree=False, smart_turn_silence_ms=200,
                               smart_turn_threshold=0.5)


def speech(name: str) -> np.ndarray:
    from localvox.audio.wav import read_wav
    from localvox.bench.endpoint_data import speech_root

    path = next((speech_root() / "asr").glob(f"*/{name}.wav"), None)
    if path is None:
        require_speech(speech_root() / "asr" / "*" / f"{name}.wav")
    return read_wav(path)


# -- a scripted judge ------------------------------------------------------------------------
class Verdict:
    def __init__(self, p: float | Exception, ready_at_s: float) -> None:
        self.p, self.ready_at_s, self.cancelled = p, ready_at_s, False

    def ready(self, now_s: float) -> float | None:
        if now_s < self.ready_at_s:
            return None
        if isinstance(self.p, Exception):
            raise self.p
        return self.p

    def cancel(self) -> None:
        self.cancelled = True


class Judge:
    """Answers ``p`` ``delay_ms`` (stream time) after each request; records requests."""

    name = "scripted"

    def __init__(self, p: float | Exception, delay_ms: float = 64.0) -> None:
        self.p, self.delay_s = p, delay_ms / 1000
        self.requests: list[tuple[float, int]] = []
        self.verdicts: list[Verdict] = []

    def request(self, audio: np.ndarray, at_s: float) -> Verdict:
        self.requests.append((at_s, len(audio)))
        self.verdicts.append(Verdict(self.p, at_s + self.delay_s))
        return self.verdicts[-1]

    def close(self) -> None:
        pass


def run(ep: Endpointer, probs: list[float], partial: str | None = None) -> list:
    out = []
    for i, p in enumerate(probs):
        if partial is not None and i == 10:
            ep.set_partial(partial)
        out += ep.feed(np.zeros(FRAME, np.float32), p)
    return out


def ended(events: list) -> list[SpeechEnded]:
    return [e for e in events if isinstance(e, SpeechEnded)]


def wait_ms(e: SpeechEnded) -> float:
    return (e.decided_s - e.speech_end_s) * 1000


UTT = [0.0] * 5 + [0.9] * 30


def test_a_complete_verdict_ends_the_turn_after_the_short_silence(cfg: EndpointConfig) -> None:
    judge = Judge(0.9, delay_ms=60)
    got = ended(run(Endpointer(cfg, judge=judge), UTT + [0.0] * 60))
    assert len(got) == 1 and got[0].reason == "smart_turn"
    assert got[0].turn_probability == pytest.approx(0.9)
    # Asked once, at the first frame with >= 200 ms of silence, with the audio so far.
    assert len(judge.requests) == 1
    asked_at = judge.requests[0][0]
    assert cfg.smart_turn_silence_ms - 0.5 <= (asked_at - got[0].speech_end_s) * 1000 \
        < cfg.smart_turn_silence_ms + FRAME_MS
    ask = cfg.smart_turn_silence_ms
    assert ask + 60 <= wait_ms(got[0]) < ask + 60 + FRAME_MS
    without = ended(run(Endpointer(cfg), UTT + [0.0] * 60))[0]
    assert without.reason == "silence" and wait_ms(without) >= cfg.default_silence_ms
    assert wait_ms(got[0]) < wait_ms(without)


def test_an_unfinished_verdict_outlasts_a_complete_looking_partial(cfg: EndpointConfig) -> None:
    # The transcript alone would end after 400 ms; Smart Turn says "not finished", so the
    # turn waits unfinished_silence_ms: a mid-sentence pause of 400-1000 ms is not cut.
    got = ended(run(Endpointer(cfg, judge=Judge(0.1)), UTT + [0.0] * 60,
                    partial="What is the weather."))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.unfinished_silence_ms
    assert cfg.unfinished_silence_ms <= wait_ms(got[0]) < cfg.unfinished_silence_ms + FRAME_MS
    plain = ended(run(Endpointer(cfg), UTT + [0.0] * 60, partial="What is the weather."))[0]
    assert wait_ms(plain) < cfg.unfinished_silence_ms


def test_the_endpointer_never_waits_for_a_slow_verdict(cfg: EndpointConfig) -> None:
    # The verdict takes 600 ms: meanwhile the adaptive silence (400 ms, complete partial)
    # is the fallback and ends the turn; the late answer is never needed.
    judge = Judge(0.9, delay_ms=600)
    got = ended(run(Endpointer(cfg, judge=judge), UTT + [0.0] * 40, partial="What time is it?"))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.complete_silence_ms and got[0].turn_probability is None


def test_speech_after_the_question_cancels_it_and_the_next_pause_asks_again(
        cfg: EndpointConfig) -> None:
    judge = Judge(0.2, delay_ms=320)
    probs = UTT + [0.0] * 8 + [0.9] * 10 + [0.0] * 50   # a 256 ms pause, then more speech
    got = ended(run(Endpointer(cfg, judge=judge), probs))
    assert len(judge.requests) == 2
    assert judge.verdicts[0].cancelled
    assert judge.requests[1][1] > judge.requests[0][1]          # more audio the second time
    assert len(got) == 1 and got[0].speech_end_s > judge.requests[0][0]


def test_a_failing_judge_falls_back_to_silence(cfg: EndpointConfig) -> None:
    ep = Endpointer(cfg, judge=Judge(RuntimeError("onnx exploded")))
    got = ended(run(ep, UTT + [0.0] * 40, partial="What time is it?"))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.complete_silence_ms
    assert ep.judge is None and "onnx exploded" in str(ep.judge_error)


# -- the "agree" policy: Smart Turn early, the partial transcript as a second opinion ------
def agree_cfg(cfg: EndpointConfig, ask_ms: int = 128) -> EndpointConfig:
    import dataclasses

    return dataclasses.replace(cfg, smart_turn_agree=True, smart_turn_silence_ms=ask_ms)


def run_partials(ep: Endpointer, probs: list[float], partials: dict[int, str]) -> list:
    """Feed frames; ``partials[i]`` is set (as the engine's forced decode would) before frame i."""
    out = []
    for i, p in enumerate(probs):
        if i in partials:
            ep.set_partial(partials[i])
        out += ep.feed(np.zeros(FRAME, np.float32), p)
    return out


END = len(UTT)   # index of the first silent frame


def test_agree_ends_early_when_the_partial_looks_complete_too(cfg: EndpointConfig) -> None:
    judge = Judge(0.9, delay_ms=40)
    got = ended(run_partials(Endpointer(agree_cfg(cfg), judge=judge), UTT + [0.0] * 60,
                             {END + 2: "What time is it?"}))
    assert len(got) == 1 and got[0].reason == "smart_turn"
    # Asked at the first frame with >= 128 ms of silence, answered 40 ms later.
    assert 128 + 40 <= wait_ms(got[0]) < 128 + 40 + FRAME_MS
    assert wait_ms(got[0]) < cfg.complete_silence_ms


def test_agree_waits_for_the_partial_before_ending(cfg: EndpointConfig) -> None:
    # The verdict is in at ~170 ms; the forced partial lands only at frame END + 9 (288 ms
    # of silence): the turn ends on that frame, not before. Smart Turn alone ends at once.
    late = END + 9
    got = ended(run_partials(Endpointer(agree_cfg(cfg), judge=Judge(0.9, 40)),
                             UTT + [0.0] * 60, {late: "Turn off the lights."}))
    assert len(got) == 1 and got[0].reason == "smart_turn"
    assert wait_ms(got[0]) == pytest.approx((late + 1 - END) * FRAME_MS)
    import dataclasses

    alone = dataclasses.replace(agree_cfg(cfg), smart_turn_agree=False)
    first = ended(run_partials(Endpointer(alone, judge=Judge(0.9, 40)), UTT + [0.0] * 60,
                               {late: "Turn off the lights."}))[0]
    assert wait_ms(first) < 128 + 40 + FRAME_MS


def test_agree_lets_a_continuation_word_outvote_smart_turn(cfg: EndpointConfig) -> None:
    # "Set a timer for" + a pause: Smart Turn says complete, the transcript says not: the
    # adaptive silence for an unfinished partial (1200 ms) decides, so the pause is kept.
    got = ended(run_partials(Endpointer(agree_cfg(cfg), judge=Judge(0.9, 40)),
                             UTT + [0.0] * 60, {END + 2: "Set a timer for"}))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.incomplete_silence_ms
    assert wait_ms(got[0]) >= cfg.incomplete_silence_ms


def test_agree_without_any_partial_waits_the_complete_silence(cfg: EndpointConfig) -> None:
    # No transcript yet (a slow decode): Smart Turn's "complete" picks the adaptive silence
    # of a complete partial (400 ms), not the 700 ms default nor its own 128 ms ask.
    got = ended(run(Endpointer(agree_cfg(cfg), judge=Judge(0.9, 40)), UTT + [0.0] * 60))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.complete_silence_ms < cfg.default_silence_ms
    plain = ended(run(Endpointer(cfg), UTT + [0.0] * 60))[0]
    assert plain.silence_ms == cfg.default_silence_ms


def test_agree_still_honours_an_unfinished_verdict(cfg: EndpointConfig) -> None:
    got = ended(run_partials(Endpointer(agree_cfg(cfg), judge=Judge(0.1, 40)),
                             UTT + [0.0] * 60, {END + 2: "What time is it?"}))
    assert len(got) == 1 and got[0].reason == "silence"
    assert got[0].silence_ms == cfg.unfinished_silence_ms


class SequenceJudge(Judge):
    """Answers the i-th request with ``ps[i]``."""

    def __init__(self, ps: list[float], delay_ms: float = 40.0) -> None:
        super().__init__(ps[0], delay_ms)
        self.ps = ps

    def request(self, audio: np.ndarray, at_s: float) -> Verdict:
        self.p = self.ps[min(len(self.requests), len(self.ps) - 1)]
        return super().request(audio, at_s)


def test_an_early_not_finished_is_asked_again_at_the_reask_silence(cfg: EndpointConfig
                                                                   ) -> None:
    import dataclasses

    again = dataclasses.replace(agree_cfg(cfg), smart_turn_reask_ms=256)
    judge = SequenceJudge([0.2, 0.9])
    got = ended(run_partials(Endpointer(again, judge=judge), UTT + [0.0] * 60,
                             {END + 2: "What is the weather like today?"}))
    assert len(judge.requests) == 2 and got[0].reason == "smart_turn"
    asked = [(at - got[0].speech_end_s) * 1000 for at, _ in judge.requests]
    assert 127.5 <= asked[0] < 128 + FRAME_MS and 255.5 <= asked[1] < 256 + FRAME_MS
    assert 256 + 40 - 0.5 <= wait_ms(got[0]) < 256 + 40 + FRAME_MS
    # Without the second question the first "not finished" holds the turn 1000 ms.
    once = ended(run_partials(Endpointer(agree_cfg(cfg), judge=SequenceJudge([0.2, 0.9])),
                              UTT + [0.0] * 60, {END + 2: "What is the weather like today?"}))
    assert once[0].reason == "silence" and once[0].silence_ms == cfg.unfinished_silence_ms


def test_a_second_not_finished_is_final(cfg: EndpointConfig) -> None:
    import dataclasses

    again = dataclasses.replace(agree_cfg(cfg), smart_turn_reask_ms=256)
    judge = SequenceJudge([0.2, 0.3, 0.9])
    got = ended(run_partials(Endpointer(again, judge=judge), UTT + [0.0] * 60,
                             {END + 2: "What is the weather like today?"}))
    assert len(judge.requests) == 2
    assert got[0].reason == "silence" and got[0].silence_ms == cfg.unfinished_silence_ms


def test_agree_is_read_from_config_by_create() -> None:
    import dataclasses

    config = load_config(use_user_file=False)
    config = dataclasses.replace(config, endpoint=agree_cfg(config.endpoint))
    ep = create(config, judge=Judge(0.9, 40))
    got = ended(run_partials(ep, UTT + [0.0] * 60, {END + 2: "Set a timer for"}))
    assert got[0].reason == "silence" and got[0].silence_ms == config.endpoint.incomplete_silence_ms


def test_without_the_pack_create_says_what_to_install(cfg: EndpointConfig,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from localvox.modelpacks import resolver

    real = resolver.ModelResolver._module_dir
    monkeypatch.setattr(resolver.ModelResolver, "_module_dir",
                        lambda self, module: None if module == "pipecat" else real(self, module))
    ep = create(load_config(use_user_file=False))
    assert ep.judge is None
    assert ep.notice is not None and "pip install --no-deps pipecat-ai" in ep.notice
    assert "\n" not in ep.notice


# -- the model ---------------------------------------------------------------------------------
@needs_models("smart_turn_v3_2")
def test_features_match_pipecats_reference_implementation() -> None:
    """Same input as Pipecat's analyzer: last 8 s, zero-padded at the start, normalised,
    80 x 800 Whisper log-mel (its vendored numpy code, loaded from the pack by path)."""
    from localvox.modelpacks import resolve_model
    from localvox.vad import smart_turn

    onnx = resolve_model("smart_turn_v3_2")
    ref_path = Path(onnx).parent.parent / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("_pipecat_whisper_features", ref_path)
    assert spec is not None and spec.loader is not None
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for clip in (speech("cmu_arctic_us_aew_a0002"), speech("LJ001-0001")):  # 4 s and 9.7 s
        ours = smart_turn.log_mel_features(clip)
        theirs = ref.compute_whisper_log_mel_features(smart_turn.last_window(clip))
        assert ours.shape == (1, 80, 800)
        assert np.abs(ours[0] - theirs).max() < 1e-4
    short = smart_turn.last_window(np.ones(100, np.float32))
    assert short.size == 128000 and short[-100:].all() and not short[:-100].any()


@needs_models("smart_turn_v3_2")
@pytest.mark.parametrize("name", ["cmu_arctic_us_aew_a0002", "LJ001-0005"])
def test_a_complete_real_clip_scores_high_and_the_same_clip_cut_scores_low(name: str) -> None:
    from localvox.vad import smart_turn

    det = smart_turn.create(load_config(use_user_file=False))
    x = speech(name)
    silence = np.zeros(int(0.2 * SAMPLE_RATE), np.float32)
    whole = det.probability(np.concatenate([x, silence]))
    cut = det.probability(np.concatenate([x[: int(len(x) * 0.55)], silence]))
    assert whole > 0.9
    assert cut < 0.3


@needs_models("smart_turn_v3_2")
def test_the_thread_judge_answers_off_the_calling_thread() -> None:
    from localvox.vad import smart_turn

    config = load_config(use_user_file=False)
    ep = create(config)
    judge = ep.judge
    assert isinstance(judge, smart_turn.ThreadJudge)
    x = np.concatenate([speech("cmu_arctic_us_aew_a0002"), np.zeros(3200, np.float32)])
    verdict = judge.request(x, 0.0)
    # the judge's one worker runs jobs in order: once a job queued after the request is
    # done, the verdict is ready (waiting on that, not on a clock)
    smart_turn._pool().submit(lambda: None).result(timeout=60)
    p = verdict.ready(0.0)
    assert p is not None
    assert p == pytest.approx(judge.detector.probability(x), abs=1e-5)
    judge.close()


# -- the endpointer on real speech (Silero + Smart Turn, verdicts at once: load-independent) --
def _endpoint(x: np.ndarray, judge: object | None) -> list[SpeechEnded]:
    from localvox.vad import silero

    config = load_config(use_user_file=False)
    vad = silero.create(config)
    v = config.vad
    ep = Endpointer(alone(config.endpoint), threshold=v.threshold, pre_roll_ms=v.pre_roll_ms,
                    min_speech_ms=v.min_speech_ms, judge=judge)  # type: ignore[arg-type]
    out: list = []
    for i in range(0, len(x) - FRAME + 1, FRAME):
        out += ep.feed(x[i:i + FRAME], vad.probability(x[i:i + FRAME]))
    return ended(out + ep.flush())


ARCTIC = "cmu_arctic_us_aew_a0003"   # "For the twentieth time that evening | the two men ..."
PHRASE_BREAK_S = 2.225               # the word gap Whisper's timestamps give for "|"


@needs_models("smart_turn_v3_2", "silero_vad")
def test_on_real_speech_smart_turn_ends_sooner_and_rides_over_a_mid_sentence_pause() -> None:
    from localvox.bench.endpoint_data import LEAD_S, _pad, room_tone, speech_bounds
    from localvox.vad import smart_turn

    det = smart_turn.create(load_config(use_user_file=False))
    x = speech(ARCTIC)
    rng = np.random.default_rng(0)
    true_end = LEAD_S + speech_bounds(x)[1]
    whole = _pad(x, rng)
    smart = _endpoint(whole, smart_turn.TimedJudge(det, slowdown=0.0))
    plain = _endpoint(whole, None)
    assert smart[0].reason == "smart_turn" and plain[0].reason == "silence"
    assert smart[0].decided_s >= true_end and plain[0].decided_s >= true_end
    assert smart[0].decided_s < plain[0].decided_s - 0.3

    cut = int(PHRASE_BREAK_S * SAMPLE_RATE)
    paused = _pad(np.concatenate([x[:cut], room_tone(x, int(0.9 * SAMPLE_RATE), rng),
                                  x[cut:]]), rng)
    smart = _endpoint(paused, smart_turn.TimedJudge(det, slowdown=0.0))
    plain = _endpoint(paused, None)
    assert smart[0].decided_s >= true_end + 0.9            # one turn: the pause was not cut
    assert plain[0].decided_s < LEAD_S + PHRASE_BREAK_S + 0.9   # silence alone cuts it
