"""The Lightning (TTS) WebSocket frames, both sides: request frames and server frames.

Why apart from ``protocol``: ``localvox serve`` and the Lightning client must agree on
every field of a request (voice, text, ``continue`` / ``flush``, ids) and of a server
frame (base64 pcm_s16le in ``data.audio``, ``complete``, ``error``), so those shapes live
here once, for both (``/work/shared/spec/smallest-protocols.md`` section 3). The
handshake, the shared constants, the JSON and PCM helpers and the Pulse (STT) frames are
in ``protocol``. Pure, like it: bad input raises ``ProtocolError`` with one readable line.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from localvox.cloud.protocol import (TTS_DEFAULT_SAMPLE_RATE, TTS_MODELS, TTS_SAMPLE_RATES,
                                     ProtocolError, json_object)

_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


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
    obj = json_object(text, "TTS request")
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
    obj = json_object(text, "Lightning message")
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
