"""``App.run()``: run any agent app the way ``localvox`` runs its own assistant.

One parser, the ``localvox`` flags (``--text``, ``--input/--output WAV``, ``--no-wake``,
``--llm ...``, ``--config``...), plus ``--serve HOST:PORT`` and ``--chat``; then one of:

* the TUI (a terminal, no ``--text``): the app's session is the agent of the speech loop,
  with the wake word, endpointing, streaming ASR, barge-in, TTS and the latency panel;
* line mode (``--text``, or output not a terminal): the same loop, events as lines; with
  ``--input call.wav`` it runs headless on the recording and prints a latency line a turn;
* ``--serve HOST:PORT``: one session per WebSocket connection (``localvox.agent.ws``);
* ``--chat``: typed turns straight into the session, no speech models (``localvox chat``).

The engine is built by the public factory (``localvox.pipeline.factory.build_engine``); this
module only opens the app's session and puts :class:`AppAgent` (``app_agent.py``) in front
of it. Failures of user code are one line each: a setup handler that never starts its
session ends the run (``SetupError``); a tool that raises is a tool error the loop shows; a
reply that produces nothing for ``[agent] reply_timeout_s`` is cut off with a notice and
the loop goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localvox.agent.app_agent import AppAgent

if TYPE_CHECKING:
    from localvox.agent.app import App
    from localvox.config import Config

__all__ = ["build_parser", "engine_factory", "finish", "launch", "load_app", "open_port",
           "run_app"]

_CAPTURE: list[Any] = []
"""While :func:`load_app` runs a file, ``App.run()`` records its app here instead of running."""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from localvox.cli import add_config_flags
    from localvox.commands._runflags import add_run_arguments

    p = argparse.ArgumentParser(
        prog=prog, description="Run this agent with localvox's speech loop: the terminal app "
        "by default, --text for lines, --input/--output WAV for a recording, --serve for "
        "WebSocket clients.")
    add_run_arguments(p)
    add_config_flags(p)
    return p


def run_app(app: "App", argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; the exit status."""
    if _CAPTURE:
        _CAPTURE[-1] = app   # load_app() is reading the file: hand the app over, run nothing
        return 0
    from localvox.cli import config_from_args
    from localvox.errors import LocalvoxError

    args = build_parser(Path(sys.argv[0]).name or None).parse_args(argv)
    try:
        return launch(app, args, config_from_args(args))
    except LocalvoxError as err:
        print(f"localvox: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def load_app(path: str | Path) -> "App":
    """The ``App`` a Python file makes, without running it.

    The file runs as ``__main__`` (as ``python FILE.py`` would), so an app created under
    ``if __name__ == "__main__":`` is found too: its ``app.run()`` hands the app back here.
    Otherwise a module-level ``app`` is used.
    """
    import runpy

    from localvox.agent.app import App
    from localvox.errors import ConfigError

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no agent file {file}")
    _CAPTURE.append(None)
    try:
        sys.path.insert(0, str(file.resolve().parent))
        try:
            namespace = runpy.run_path(str(file), run_name="__main__")
        finally:
            sys.path.remove(str(file.resolve().parent))
        app = _CAPTURE[-1] or namespace.get("app")
    finally:
        _CAPTURE.pop()
    if not isinstance(app, App):
        raise ConfigError(f"{file} makes no app: define `app = AtomsApp(setup_handler=...)` "
                          "(or localvox.agent.App) and call app.run()")
    return app


def launch(app: "App", args: argparse.Namespace, config: "Config", *,
           name: str | None = None) -> int:
    """Run ``app`` in the mode the flags ask for; ``name`` labels what it says on join
    (default: the script's name)."""
    from localvox.agent.client import set_active_config

    set_active_config(config, llm_chosen=_llm_chosen(config))
    name = name or Path(sys.argv[0]).stem or "agent"
    _log_to_file()
    serve = getattr(args, "serve", None)
    if serve:
        host, port = _host_port(serve)
        return asyncio.run(_serve(app, host, port))
    if getattr(args, "chat", False):
        from localvox.agent.chat_loop import chat_loop

        return asyncio.run(chat_loop(app))
    inputs = {"input_path": getattr(args, "input", None),
              "output_path": getattr(args, "output", None)}
    if getattr(args, "text_mode", False) or not sys.stdout.isatty():
        return asyncio.run(_line_mode(app, config, name, **inputs))
    from localvox.tui.app import LocalvoxApp

    LocalvoxApp(config, engine_factory(app, config, name, **inputs)).run()
    finish(app)
    return 0


# -- the agent in front of the engine ------------------------------------------------------

async def open_port(app: "App", config: "Config", name: str = "agent",
                    ) -> tuple[AppAgent, list[str]]:
    """Open the app's session for the speech loop; what to show first (the model used,
    and what the agent said when the user joined: shown, not spoken, as the loop waits for
    the wake word)."""
    from localvox.agent.client import take_announcements

    session = await app.open_session(transport="speech")
    port = AppAgent(session, reply_timeout_s=config.agent.reply_timeout_s)
    greeted = await port.join()
    lines = [f"[info] {line}" for line in take_announcements()]
    lines += [f"[{name} greets] {said}" for said in greeted]
    return port, lines


def engine_factory(app: "App", config: "Config", name: str = "agent", **inputs: Any) -> Any:
    """The TUI's engine factory: the app's session as the agent, models load behind it."""
    async def factory(progress: Any) -> Any:
        from localvox.pipeline.events import Notice
        from localvox.pipeline.factory import build_engine

        progress("starting the agent")
        port, lines = await open_port(app, config, name)
        engine = await build_engine(config, agent=port, progress=progress, progressive=True,
                                    **inputs)
        engine.startup_notices.extend(Notice("info", line.removeprefix("[info] "))
                                      for line in lines)
        _label(engine)
        follow_vocabulary(app, engine, config, port.session)
        return engine

    return factory


async def _line_mode(app: "App", config: "Config", name: str, *, input_path: str | None,
                     output_path: str | None) -> int:
    from localvox.commands.run import format_latency
    from localvox.pipeline import events as ev
    from localvox.pipeline.factory import build_engine
    from localvox.tui.textmode import run_text_mode

    try:
        port, lines = await open_port(app, config, name)
        for line in lines:
            print(line, flush=True)
        engine = await build_engine(config, agent=port, input_path=input_path,
                                    output_path=output_path)
        _label(engine)
        follower = follow_vocabulary(app, engine, config, port.session)
        traces = engine.subscribe()

        async def show_latency() -> None:
            """One latency line per turn, under the reply."""
            while True:
                event = await traces.get()
                if isinstance(event, ev.TurnTrace) and (text := format_latency(event.marks)):
                    for _ in range(3):   # the line printer ends the reply line first
                        await asyncio.sleep(0)
                    print(f"  ({text})", flush=True)

        shower = asyncio.create_task(show_latency())
        try:
            return int(await run_text_mode(engine) or 0)
        finally:
            shower.cancel()
            if follower is not None:
                await follower.stop()
    finally:
        await app.close()
        finish(app)


def follow_vocabulary(app: "App", engine: Any, config: "Config", session: Any) -> Any:
    """Tell the recogniser what the app's tools expect, refreshed after every reply: the
    app's own ``vocabulary`` (the barista's), else every tool registry of its session's
    nodes (any user agent). None when biasing is off."""
    if not config.asr.bias:
        return None
    from localvox.agent.listen import BiasFollower, session_vocabulary

    vocabulary = getattr(app, "vocabulary", None)
    if vocabulary is None:
        def vocabulary(question: str = "", *, wake_word: str = "") -> Any:
            return session_vocabulary(session, wake_word=wake_word, question=question)

    wake = config.wake.model if config.wake.mode == "wake" else ""
    follower = BiasFollower(engine, lambda question: vocabulary(question, wake_word=wake),
                            notify=lambda line: print(f"[note] {line}", flush=True))
    follower.start()
    return follower


async def _serve(app: "App", host: str, port: int) -> int:
    import signal

    server = await app.serve_ws(host, port)
    bound = server.sockets[0].getsockname() if server.sockets else (host, port)
    print(f"serving the agent on ws://{bound[0]}:{bound[1]} (one session per connection; "
          "Ctrl-C stops)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await app.close()
        finish(app)
    return 0


# -- helpers -------------------------------------------------------------------------------

def _log_to_file() -> Path | None:
    """Tracebacks of user code (a tool that raised, a failing node) go to a log file.

    Why: the screen gets one readable line per failure (a notice); without a handler,
    Python's last-resort handler printed each traceback on stderr, over the TUI or
    between the lines of ``--text``.
    """
    import logging

    from localvox.config import xdg_dir

    root = logging.getLogger()
    if root.handlers:                 # the embedding program configured logging itself
        return None
    path = xdg_dir("state") / "agent.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler, path = logging.NullHandler(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return path


def _label(engine: Any) -> None:
    """The status bar names the LLM the agent's client really uses (OPENAI_* may differ
    from the config)."""
    from localvox.agent.client import active_label

    label = active_label()
    if label:
        engine.labels["llm"] = label


def finish(app: "App") -> None:
    """The built-in examples close their databases here (``app.finish``)."""
    close = getattr(app, "finish", None)
    if callable(close):
        close()


def _host_port(text: str) -> tuple[str, int]:
    from localvox.errors import ConfigError

    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"--serve {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765") from None
    return host or "127.0.0.1", number


def _llm_chosen(config: "Config") -> bool:
    """Did the user pick the LLM (flag, --set, a config file), over the defaults?"""
    from localvox.config import load_config

    default = load_config(use_user_file=False).llm
    llm = config.llm
    return (llm.backend, llm.model, llm.base_url, llm.remote_model) != (
        default.backend, default.model, default.base_url, default.remote_model)
