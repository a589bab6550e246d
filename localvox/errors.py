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
