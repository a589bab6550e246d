"""The handshake gate of ``localvox serve``: route, authenticate, validate, before the upgrade.

Why here and not in the session: the protocol (spec section 3.2) refuses a bad key with
HTTP 401 and a bad model or parameter with HTTP 400 *before* the WebSocket upgrade, which
is what clients (and the official SDK) check for. ``websockets``' ``process_request`` hook
returns those responses; the query parsers are the pure ones in ``localvox.cloud.protocol``.
"""

from __future__ import annotations

import hmac
from http import HTTPStatus
from typing import Any, Callable, Iterable

from localvox.cloud.protocol import (
    STT_LEGACY_PATH, STT_PATH, TTS_PATH, ProtocolError, parse_stt_query, parse_tts_query,
    split_path,
)

ROUTES = (STT_PATH, STT_LEGACY_PATH, TTS_PATH)
SUPPORTED_ENCODINGS = ("linear16",)
UNAUTHORIZED_BODY = "Websocket initialized with invalid credentials."


def bearer_token(headers: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    value = headers.get("Authorization") if headers is not None else None
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_ok(token: str | None, keys: Iterable[str]) -> bool:
    """Constant-time comparison against every accepted key."""
    if token is None:
        return False
    got = token.encode("utf-8", "surrogateescape")
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(got, key.encode("utf-8", "surrogateescape"))
    return ok


def check_request(target: str, headers: Any, keys: Iterable[str]) -> tuple[int, str] | None:
    """``None`` to accept the upgrade, else (HTTP status, one-line body)."""
    try:
        path, query = split_path(target)
    except ProtocolError as err:
        return HTTPStatus.BAD_REQUEST, str(err)
    if path not in ROUTES:
        return HTTPStatus.NOT_FOUND, (f"no endpoint at {path[:80]}; use {STT_PATH}, "
                                      f"{STT_LEGACY_PATH} or {TTS_PATH}")
    if not key_ok(bearer_token(headers), keys):
        return HTTPStatus.UNAUTHORIZED, UNAUTHORIZED_BODY
    try:
        if path == TTS_PATH:
            parse_tts_query(query)
        else:
            parse_stt_query(path, query, encodings=SUPPORTED_ENCODINGS)
    except ProtocolError as err:
        return HTTPStatus.BAD_REQUEST, str(err)
    return None


def make_process_request(keys: Callable[[], Iterable[str]]) -> Callable[[Any, Any], Any]:
    """A ``websockets`` ``process_request`` hook answering 401/400/404 before the upgrade."""

    def process_request(connection: Any, request: Any) -> Any:
        verdict = check_request(request.path, request.headers, keys())
        if verdict is None:
            return None
        status, body = verdict
        return connection.respond(status, body + "\n")

    return process_request
