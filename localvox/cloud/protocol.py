"""Pure parsers and builders for the Pulse (STT) and Lightning (TTS) WebSocket protocols.

Why one module for both sides: ``localvox serve`` and the cloud clients must agree on
every field, so the frame shapes live here once (see
``/work/shared/spec/smallest-protocols.md`` sections 1-3). Everything here is pure (no I/O,
no globals) so it can be fuzzed: bad input raises ``ProtocolError`` with one readable
line and nothing else. This module holds the paths and values of both services, the
handshake (query string) parsers, the JSON and PCM helpers and the Pulse frames; the
Lightning frames are in ``lightning_protocol``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np

from localvox.errors import CloudError

STT_PATH = "/waves/v1/stt/live"
STT_LEGACY_PATH = "/waves/v1/pulse/get_text"
TTS_PATH = "/waves/v1/tts/live"

STT_MODELS = ("pulse",)
STT_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
STT_ENCODINGS = ("linear16", "linear32", "alaw", "mulaw", "opus", "ogg_opus")
STT_LANGUAGES = (
    "en", "hi", "de", "es", "ru", "it", "fr", "nl", "pt", "zh", "yue", "ja", "ko", "gu", "mr",
    "or", "bn", "ta", "te", "kn", "ml", "north_indic", "multi-asian", "multi-south-indic",
)
TTS_MODELS = ("lightning_v3.1", "lightning_v3.1_pro")
TTS_SAMPLE_RATES = (8000, 16000, 24000, 44100)
TTS_DEFAULT_SAMPLE_RATE = 44100
TTS_DEFAULT_TIMEOUT_S = 60.0
FRAME_BYTES = 4096
"""Recommended Pulse audio frame: 4096 bytes, ~128 ms of 16 kHz linear16."""


class ProtocolError(CloudError):
    """A frame, query string or parameter that breaks the protocol (one line, no secrets)."""


# ---------------------------------------------------------------- query strings


def query_value(value: Any) -> str:
    """One query value as the server reads it: booleans are "true"/"false", lists comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def build_query(params: Mapping[str, Any]) -> str:
    """Urlencode handshake parameters; ``None`` values are left out (server default)."""
    return urlencode({k: query_value(v) for k, v in params.items() if v is not None})


def split_path(target: str) -> tuple[str, dict[str, str]]:
    """Split a request target into (path, first value of each query key)."""
    parts = urlsplit(target)
    try:
        raw = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as err:  # e.g. too many fields
        raise ProtocolError(f"unreadable query string: {err}") from None
    return parts.path, {k: v[0] for k, v in raw.items()}


def _bool(query: Mapping[str, str], key: str, default: bool) -> bool:
    # The service compares with === "true": anything else is false (so Python's "True" is false).
    if key not in query:
        return default
    return query[key] == "true"


def _int(query: Mapping[str, str], key: str, default: int | None,
         lo: int | None = None, hi: int | None = None) -> int | None:
    if key not in query:
        return default
    raw = query[key]
    try:
        value = int(raw)
    except ValueError:
        raise ProtocolError(f"{key} must be a whole number, got {raw[:40]!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProtocolError(f"{key} must be between {lo} and {hi}, got {value}")
    return value


@dataclass(frozen=True)
class SttParams:
    """Handshake settings of one Pulse session (what ``localvox serve`` honours)."""

    language: str = "en"
    sample_rate: int = 16000
    encoding: str = "linear16"
    punctuate: bool = True
    capitalize: bool = True
    full_transcript: bool = False
    word_timestamps: bool = False
    vad_events: bool = False
    max_words: int | None = None
    eou_timeout_ms: int = 800


def parse_stt_query(path: str, query: Mapping[str, str],
                    *, encodings: tuple[str, ...] = STT_ENCODINGS) -> SttParams:
    """Validate a Pulse handshake; ``ProtocolError`` means HTTP 400 before the upgrade."""
    model = query.get("model")
    if path == STT_PATH:
        if model is None or model == "":
            raise ProtocolError("model is required on /waves/v1/stt/live: use model=pulse")
    if model is not None and model != "" and model not in STT_MODELS:
        hint = " (pulse-pro does not stream)" if model == "pulse-pro" else ""
        raise ProtocolError(f"model {model[:40]!r} cannot stream{hint}: use model=pulse")
    language = query.get("language", "")
    if language not in STT_LANGUAGES:
        got = repr(language[:40]) if language else "nothing"
        raise ProtocolError(f"language must be one of {', '.join(STT_LANGUAGES)}; got {got}")
    rate = _int(query, "sample_rate", 16000)
    if rate not in STT_SAMPLE_RATES:
        raise ProtocolError(f"sample_rate must be one of {', '.join(map(str, STT_SAMPLE_RATES))}, "
                            f"got {rate}")
    encoding = query.get("encoding", "linear16")
    if encoding not in STT_ENCODINGS:
        raise ProtocolError(f"encoding must be one of {', '.join(STT_ENCODINGS)}, "
                            f"got {encoding[:40]!r}")
    if encoding not in encodings:
        raise ProtocolError(f"encoding {encoding} is not supported here; use "
                            f"{' or '.join(encodings)}")
    fmt = _bool(query, "format", True)
    vad = _bool(query, "vad_events", False) if "vad_events" in query else _bool(query, "vad", False)
    return SttParams(
        language=language,
        sample_rate=int(rate),
        encoding=encoding,
        punctuate=fmt and _bool(query, "punctuate", True),
        capitalize=fmt and _bool(query, "capitalize", True),
        full_transcript=_bool(query, "full_transcript", False),
        word_timestamps=_bool(query, "word_timestamps", path == STT_LEGACY_PATH),
        vad_events=vad,
        max_words=_int(query, "max_words", None, 1, 100000),
        eou_timeout_ms=int(_int(query, "eou_timeout_ms", 800, 100, 10000) or 800),
    )


def parse_tts_query(query: Mapping[str, str]) -> float:
    """The idle timeout in seconds from a Lightning handshake (``timeout``, default 60)."""
    raw = query.get("timeout")
    if raw is None:
        return TTS_DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ProtocolError(f"timeout must be a number of seconds, got {raw[:40]!r}") from None
    if not math.isfinite(value) or value <= 0 or value > 3600:
        raise ProtocolError(f"timeout must be between 0 and 3600 seconds, got {raw[:40]!r}")
    return value


# ---------------------------------------------------------------- JSON frames


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not UTF-8 text") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


SttControl = Literal["finalize", "close_stream"]


def parse_stt_control(text: str | bytes) -> SttControl:
    """A client control frame: ``finalize`` or ``close_stream`` (legacy ``end`` is an alias)."""
    obj = json_object(text, "control message")
    kind = obj.get("type")
    if kind == "finalize":
        return "finalize"
    if kind in ("close_stream", "end"):
        return "close_stream"
    shown = repr(kind)[:40] if kind is not None else "no type"
    raise ProtocolError(f"unknown control message {shown}: send finalize or close_stream")


def transcription_message(session_id: str, text: str, *, is_final: bool, is_last: bool = False,
                          from_finalize: bool = False, language: str = "en",
                          full_transcript: str | None = None) -> dict[str, Any]:
    """A Pulse ``transcription`` frame. ``transcript`` and ``transcription`` carry the same text."""
    msg: dict[str, Any] = {"type": "transcription", "status": "success", "session_id": session_id,
                           "transcript": text, "transcription": text,
                           "is_final": is_final, "is_last": is_last}
    if is_final:
        msg["from_finalize"] = from_finalize
        msg["language"] = language
        msg["languages"] = [language]
    if full_transcript is not None:
        msg["full_transcript"] = full_transcript
    return msg


def stt_error_message(message: str) -> dict[str, Any]:
    return {"type": "error", "status": "error", "message": message}


@dataclass(frozen=True)
class SttEvent:
    """A server frame as the Pulse client sees it (dispatch on ``type``)."""

    type: str
    transcript: str = ""
    is_final: bool = False
    is_last: bool = False
    from_finalize: bool = False
    message: str = ""
    timestamp: float | None = None


def parse_stt_event(text: str | bytes) -> SttEvent:
    """Parse a Pulse server frame; unknown types come back as-is for the caller to ignore."""
    obj = json_object(text, "Pulse message")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("Pulse message has no type")
    if kind == "error" or obj.get("status") == "error":
        msg = obj.get("message")
        if not isinstance(msg, str):
            err = obj.get("error")
            msg = err.get("message") if isinstance(err, dict) else None
        return SttEvent(type="error", message=str(msg or "unknown error")[:300])
    if kind == "transcription":
        t = obj.get("transcript", obj.get("transcription", ""))
        if t is None:
            t = ""
        if not isinstance(t, str):
            raise ProtocolError("Pulse transcript is not a string")
        flags = {}
        for key in ("is_final", "is_last", "from_finalize"):
            v = obj.get(key, False)
            if not isinstance(v, bool):
                raise ProtocolError(f"Pulse field {key} is not a boolean")
            flags[key] = v
        return SttEvent(type=kind, transcript=t, **flags)
    ts = obj.get("timestamp")
    stamp = float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None
    return SttEvent(type=kind, timestamp=stamp)


# ---------------------------------------------------------------- PCM


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Mono float32 in [-1, 1] to pcm_s16le bytes."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(data: bytes) -> np.ndarray:
    """pcm_s16le bytes (even length) to mono float32."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
