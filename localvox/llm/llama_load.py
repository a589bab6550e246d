"""Loading a GGUF with llama-cpp-python without its side effects on the rest of the app.

Guards that run in the llama.cpp worker thread as the model loads: ``check_gguf``
rejects a file that is not a GGUF in one line (before llama.cpp prints pages of C++
diagnostics), ``keep_stdio_open`` stops llama-cpp-python silencing the whole
process's stdout/stderr while the model loads in the background, and ``close_at_exit``
frees a model still loaded when the interpreter exits, before the module globals its
``__del__`` needs are gone (it printed "Exception ignored in: Llama.__del__ ...
TypeError: 'NoneType' object is not callable" at the end of a test run). Kept apart from
``llama_cpp.py`` (loading, prompt, generation) to hold that module under ~400 lines.
"""

from __future__ import annotations

import atexit
import weakref
from pathlib import Path
from typing import Any

from localvox.errors import LLMError


def check_gguf(path: Path) -> None:
    """Fail with one line before llama.cpp prints pages of C++ diagnostics."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except IsADirectoryError:
        raise LLMError(f"{path} is a folder, not a GGUF model file") from None
    except OSError as err:
        raise LLMError(f"cannot read model file {path}: {err.strerror}") from None
    if magic != b"GGUF":
        raise LLMError(f"{path} is not a GGUF model file (llama.cpp needs a .gguf; "
                       "set [llm] model to qwen2_5_coder_1_5b, smollm2_135m or a .gguf path)")


class _NoRedirect:
    """Stand-in for llama-cpp-python's ``suppress_stdout_stderr``."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> "_NoRedirect":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_QUIET_LOG: Any = None
"""llama.cpp's log callback (kept referenced: ctypes must not free it)."""


def keep_stdio_open() -> None:
    """Stop llama-cpp-python pointing the whole process's stdout/stderr at /dev/null.

    With ``verbose=False`` it dup2()s fds 1 and 2 to /dev/null while a model loads -- a
    few seconds, process-wide. Now that the model loads in the background, the event loop
    keeps printing meanwhile, and those lines vanished: the weather example's first reply
    in ``--text`` mode was never shown. llama.cpp's own log lines are already muted
    through its log callback (``set_verbose(False)``), so the redirect is not needed.
    """
    import ctypes

    import llama_cpp
    import llama_cpp._internals as internals
    import llama_cpp.llama as llama_mod

    # Without the redirect, llama.cpp's load-time chatter at its ERROR level ("control-looking
    # token ... was not control-type" for the Qwen GGUF) reached the user's terminal: its log
    # goes nowhere now. Real failures still surface as Python exceptions, shown as one line.
    global _QUIET_LOG
    if _QUIET_LOG is None:
        _QUIET_LOG = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_QUIET_LOG, ctypes.c_void_p(0))
    internals.suppress_stdout_stderr = _NoRedirect  # type: ignore[assignment]
    llama_mod.suppress_stdout_stderr = _NoRedirect  # type: ignore[assignment]


_LOADED: "weakref.WeakSet[Any]" = weakref.WeakSet()


def close_at_exit(llm: Any) -> None:
    """Free ``llm`` at interpreter exit if nobody closed it (``atexit`` runs first)."""
    _LOADED.add(llm)


@atexit.register
def _close_loaded() -> None:
    for llm in list(_LOADED):
        try:
            llm.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
