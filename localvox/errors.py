"""User-facing errors.

Every error a user can cause or fix (a missing model, a corrupt WAV, a bad config key,
a dead LLM server) is a ``LocalvoxError`` whose message is one readable line naming the
fix. The CLI prints ``str(err)`` and exits non-zero; the voice loop reports it as an
event and carries on. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LocalvoxError(Exception):
    """An error with a one-line message meant for the user."""


class ConfigError(LocalvoxError):
    """A config file or flag has an unknown key or a bad value."""


class ModelError(LocalvoxError):
    """A model is missing, corrupt or cannot be loaded."""


class AudioFileError(LocalvoxError):
    """A file is not readable audio."""


class AudioDeviceError(LocalvoxError):
    """No usable sound card, or the device went away."""


class LLMError(LocalvoxError):
    """The language model backend failed (server down, bad reply, bad model file)."""


class CloudError(LocalvoxError):
    """A cloud speech service failed (bad key, bad parameter, unreachable)."""


def redact(text: str, *secrets: str, min_run: int = 8) -> str:
    """Remove API keys from text that may reach a user, a log or a trace.

    Servers quote rejected keys back, whole or partly masked ("sk-abcd1234...wxyz"), so
    besides the whole key every run of ``min_run`` or more of its characters is replaced.
    """
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "<redacted>")
        run = min(min_run, len(secret))
        for start in range(0, len(secret) - run + 1):
            piece = secret[start:start + run]
            if piece in text:
                text = text.replace(piece, "<redacted>")
    return text
