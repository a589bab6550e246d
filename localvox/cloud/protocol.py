"""Pure parsers and builders for the Pulse (STT) and Lightning (TTS) WebSocket protocols.

Why one module for both sides: ``localvox serve`` and the cloud clients must agree on
every field, so the frame shapes live here once (see
``/work/shared/spec/smallest-protocols.md`` sections 1-3). Everything here is pure (no I/O,
no globals) so it can be fuzzed: bad input raises ``ProtocolError`` with one readable
line and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
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

_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


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


def _json_object(text: str | bytes, what: str) -> dict[str, Any]:
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
    obj = _json_object(text, "control message")
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
    obj = _json_object(text, "Pulse message")
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


# ---------------------------------------------------------------- Lightning


@dataclass(frozen=True)
class TtsRequest:
    """One client text frame on /waves/v1/tts/live, validated."""

    voice_id: str
    text: str
    model: str = "lightning_v3.1"
    sample_rate: int = TTS_DEFAULT_SAMPLE_RATE
    speed: float = 1.0
    continue_: bool = False
    flush: bool = False
    language: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ends_request(self) -> bool:
        """Synthesis starts on ``flush`` or on a message without ``continue``."""
        return self.flush or not self.continue_


_TTS_KNOWN = {"voice_id", "text", "model", "sample_rate", "speed", "continue", "flush", "language",
              "session_id", "request_id", "max_buffer_flush_ms", "complete_backoff_ms",
              "word_timestamps", "output_format", "number_pronunciation_language",
              "math_notation", "pronunciation_dicts"}


def _opt_bool(obj: Mapping[str, Any], key: str) -> bool:
    v = obj.get(key)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise ProtocolError(f"{key} must be true or false")
    return v


def _opt_number(obj: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    v = obj.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ProtocolError(f"{key} must be a number")
    if not lo <= v <= hi:
        raise ProtocolError(f"{key} must be between {lo:g} and {hi:g}, got {v:g}")
    return float(v)


def _opt_id(obj: Mapping[str, Any], key: str) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not _ID_RE.fullmatch(v):
        raise ProtocolError(f"{key} must be 1-128 letters, digits, '-', '_' or '.'")
    return v


def parse_tts_request(text: str | bytes, *, voices: tuple[str, ...] | None = None) -> TtsRequest:
    """Validate one Lightning request frame; ``ProtocolError`` is answered with an error frame."""
    obj = _json_object(text, "TTS request")
    voice = obj.get("voice_id")
    if not isinstance(voice, str) or not voice.strip():
        raise ProtocolError("voice_id is required")
    if voices is not None and voice not in voices:
        raise ProtocolError(f"unknown voice_id {voice[:40]!r}")
    body = obj.get("text")
    if not isinstance(body, str):
        raise ProtocolError("text is required (it may be \"\" for a flush)")
    model = obj.get("model", "lightning_v3.1")
    if model is None:
        model = "lightning_v3.1"
    if model not in TTS_MODELS:
        raise ProtocolError(f"model must be one of {', '.join(TTS_MODELS)}, got {str(model)[:40]!r}")
    rate = obj.get("sample_rate")
    if rate is None:
        rate = TTS_DEFAULT_SAMPLE_RATE
    if isinstance(rate, bool) or rate not in TTS_SAMPLE_RATES:
        raise ProtocolError(f"sample_rate must be one of {', '.join(map(str, TTS_SAMPLE_RATES))}, "
                            f"got {str(rate)[:40]}")
    language = obj.get("language")
    if language is not None and not isinstance(language, str):
        raise ProtocolError("language must be a string")
    _opt_number(obj, "max_buffer_flush_ms", 0, 0, 1000)
    _opt_number(obj, "complete_backoff_ms", 4000, 0, 10000)
    output = obj.get("output_format")
    if output is not None and output != "pcm":
        raise ProtocolError(f"output_format {str(output)[:20]!r} is not supported here; use pcm")
    return TtsRequest(
        voice_id=voice, text=body, model=str(model), sample_rate=int(rate),
        speed=_opt_number(obj, "speed", 1.0, 0.5, 2.0),
        continue_=_opt_bool(obj, "continue"), flush=_opt_bool(obj, "flush"),
        language=language, session_id=_opt_id(obj, "session_id"),
        request_id=_opt_id(obj, "request_id"),
        extra={k: v for k, v in obj.items() if k not in _TTS_KNOWN},
    )


def tts_request_message(voice_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """A client frame; ``continue_`` is sent as ``continue``; ``None`` fields are left out."""
    msg: dict[str, Any] = {"voice_id": voice_id, "text": text}
    for key, value in fields.items():
        if value is not None:
            msg["continue" if key == "continue_" else key] = value
    return msg


def _ids(session_id: str, request_id: str, ext_session: str | None,
         ext_request: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"session_id": session_id, "request_id": request_id}
    if ext_session:
        out["external_session_id"] = ext_session
    if ext_request:
        out["external_request_id"] = ext_request
    return out


def tts_chunk_frame(session_id: str, request_id: str, pcm: bytes, *,
                    ext_session: str | None = None, ext_request: str | None = None) -> dict[str, Any]:
    frame = _ids(session_id, request_id, ext_session, ext_request)
    frame["status"] = "chunk"
    frame["data"] = {"audio": base64.b64encode(pcm).decode("ascii")}
    return frame


def tts_complete_frame(session_id: str, request_id: str, *, ext_session: str | None = None,
                       ext_request: str | None = None) -> dict[str, Any]:
    frame = _ids(session_id, request_id, ext_session, ext_request)
    frame["status"] = "complete"
    return frame


def tts_error_frame(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message}


def idle_timeout_message(timeout_s: float) -> str:
    return f"Connection timed out after {timeout_s:g} seconds of inactivity"


@dataclass(frozen=True)
class TtsFrame:
    """A Lightning server frame as the client sees it."""

    status: str
    audio: bytes = b""
    request_id: str | None = None
    external_request_id: str | None = None
    message: str = ""


def parse_tts_frame(text: str | bytes) -> TtsFrame:
    """Parse a Lightning server frame (base64 pcm_s16le inside ``data.audio``)."""
    obj = _json_object(text, "Lightning message")
    status = obj.get("status")
    if not isinstance(status, str):
        raise ProtocolError("Lightning message has no status")
    rid = obj.get("request_id")
    ext = obj.get("external_request_id")
    rid = rid if isinstance(rid, str) else None
    ext = ext if isinstance(ext, str) else None
    if status == "error":
        msg = obj.get("message")
        if not isinstance(msg, str):
            err = obj.get("error")
            msg = err.get("message") if isinstance(err, dict) else None
        return TtsFrame(status="error", message=str(msg or "unknown error")[:300],
                        request_id=rid, external_request_id=ext)
    audio = b""
    if status == "chunk":
        data = obj.get("data")
        b64 = data.get("audio") if isinstance(data, dict) else None
        if not isinstance(b64, str):
            raise ProtocolError("Lightning chunk has no data.audio")
        try:
            audio = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("Lightning chunk audio is not base64") from None
        if len(audio) % 2:
            raise ProtocolError("Lightning chunk audio is not 16-bit PCM (odd length)")
    return TtsFrame(status=status, audio=audio, request_id=rid, external_request_id=ext)


# ---------------------------------------------------------------- PCM


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Mono float32 in [-1, 1] to pcm_s16le bytes."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(data: bytes) -> np.ndarray:
    """pcm_s16le bytes (even length) to mono float32."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
