"""Opening authenticated WebSockets to Smallest AI (or ``localvox serve``), with clear errors.

Why a helper: both clients need the same things: an ``Authorization: Bearer`` header, the
handshake refusals mapped to one-line ``CloudError``s that name the fix (401 -> the key,
400 -> the parameter), network failures marked retryable (``CloudUnavailable``), backoff,
and a logger that never prints the key (websockets logs every handshake header at DEBUG).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from localvox.errors import CloudError, redact

log = logging.getLogger("localvox.cloud")

BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 4.0)
"""Delays between reconnect attempts after a drop; after the last one the cloud is unreachable."""


class CloudUnavailable(CloudError):
    """The service cannot be reached right now (network, DNS, refused, dropped); retryable."""


class CloudRejected(CloudError):
    """The service refused the handshake (bad key, bad parameter); retrying will not help."""


class _RedactAuth(logging.Filter):
    """Drop websockets' DEBUG lines that carry the Authorization header."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; keep it out to be safe
            return False
        return "authorization" not in text.lower()


def redacted_logger(name: str = "localvox.cloud.ws") -> logging.Logger:
    """A logger for websockets connections/servers that never records Authorization headers."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _RedactAuth) for f in logger.filters):
        logger.addFilter(_RedactAuth())
    return logger


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, for messages (never the query, never credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def missing_key_error(env: str, service: str, backend_hint: str) -> CloudError:
    return CloudRejected(f"{service} needs an API key: set the {env} environment variable "
                         f"(the [cloud] api_key_env setting) or use {backend_hint}")


async def open_socket(url: str, api_key: str, *, service: str, key_env: str,
                      open_timeout: float = 10.0, **kwargs: Any) -> Any:
    """Connect with ``Authorization: Bearer <key>``; raise ``CloudRejected``/``CloudUnavailable``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    where = origin(url)
    try:
        return await connect(url, additional_headers={"Authorization": f"Bearer {api_key}"},
                             open_timeout=open_timeout, logger=redacted_logger(),
                             max_size=2**24, **kwargs)
    except InvalidStatus as err:
        status = err.response.status_code
        body = bytes(err.response.body or b"").decode("utf-8", "replace").strip()
        body = redact(body, api_key)
        if status in (401, 403):
            raise CloudRejected(f"{service} at {where} rejected the API key (HTTP {status}): "
                                f"check the {key_env} environment variable") from None
        if status == 400:
            detail = f": {body.splitlines()[0][:160]}" if body else ""
            raise CloudRejected(f"{service} at {where} refused the request parameters (HTTP 400)"
                                f"{detail}; check the [cloud] settings") from None
        raise CloudUnavailable(f"{service} at {where} answered HTTP {status}") from None
    except InvalidURI:
        raise CloudRejected(f"[cloud] base_url is not a WebSocket URL: {where}") from None
    except (OSError, asyncio.TimeoutError, InvalidHandshake, EOFError) as err:
        reason = type(err).__name__ if not str(err) else str(err).splitlines()[0][:120]
        if api_key:
            reason = reason.replace(api_key, "<key>")
        raise CloudUnavailable(f"cannot reach {service} at {where}: {reason}") from None


async def close_quietly(ws: Any) -> None:
    """Close a socket that may already be broken: there is nothing left to release then."""
    try:
        await ws.close()
    except Exception:
        pass


def is_closed_error(err: BaseException) -> bool:
    """True for the ways a socket says it is gone (closed frame, reset, refused)."""
    from websockets.exceptions import ConnectionClosed

    return isinstance(err, (ConnectionClosed, ConnectionError, OSError))
