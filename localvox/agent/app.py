"""App: runs one :class:`Session` per conversation from a setup handler.

    async def setup(session: Session) -> None:
        session.add_node(MyAgent())
        await session.start()
        await session.wait_until_complete()

    app = App(setup)                 # or App(setup_handler=setup), the Atoms spelling
    app.run()                        # the speech loop / TUI / --text / --serve (see launch.py)
    session = await app.open_session(user="ana")   # the speech loop, `localvox chat`, ws.py
    async for event in session.turn("what time is it?"):
        ...

The front end owns a session's lifetime: it closes the session when the user leaves or
after the call ended (``session.ended``). ``App.close()`` closes whatever is still open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from localvox.agent.session import Session
from localvox.errors import LocalvoxError

__all__ = ["App", "SetupHandler", "SetupError"]

log = logging.getLogger(__name__)

SetupHandler = Callable[[Session], Awaitable[None]]


class SetupError(LocalvoxError, RuntimeError):
    """The setup handler did not start its session (returned early or never called
    ``session.start()``). A ``RuntimeError`` too, as it was before it had a name."""


class App:
    """Runs one :class:`Session` per conversation from a setup handler.

    Args:
        setup: ``async def setup(session)``: add nodes, ``await session.start()``.
        setup_handler: the same, under the Atoms SDK's keyword (``AtomsApp(setup_handler=)``).
        start_timeout_s: a handler that has not called ``session.start()`` by then fails
            the session with one line (a handler that never starts would hang the call).
    """

    def __init__(self, setup: SetupHandler | None = None, *,
                 setup_handler: SetupHandler | None = None,
                 start_timeout_s: float = 30.0) -> None:
        if setup is not None and setup_handler is not None and setup is not setup_handler:
            raise TypeError("give the setup handler once: App(setup) or App(setup_handler=...)")
        handler = setup if setup is not None else setup_handler
        if handler is None or not callable(handler):
            raise TypeError("App needs a setup handler: App(setup_handler=on_start), where "
                            "`async def on_start(session)` adds nodes and starts the session")
        self.setup: SetupHandler = handler
        self.start_timeout_s = start_timeout_s
        self.sessions: set[Session] = set()

    @property
    def setup_handler(self) -> SetupHandler:
        """The Atoms SDK's name for :attr:`setup`."""
        return self.setup

    def run(self, argv: list[str] | None = None) -> None:
        """Run this agent as ``localvox`` runs its own: the TUI on a terminal, ``--text``
        line mode, ``--input/--output WAV`` headless, ``--serve HOST:PORT`` over WebSocket.

        Parses ``argv`` (default ``sys.argv[1:]``) with the same flags as ``localvox``;
        ``python my_agent.py --help`` lists them. Exits with status 2 and one line on a
        user-facing error (no model, a setup handler that never starts the session).
        """
        from localvox.agent.launch import run_app

        code = run_app(self, argv)
        if code:
            raise SystemExit(code)

    async def open_session(self, **initial_variables: Any) -> Session:
        """Create a session and run the setup handler; return once the session started.

        An exception the handler raises before ``session.start()`` is raised here.
        """
        session = Session(initial_variables)
        await self.start_session(session)
        return session

    async def start_session(self, session: Session) -> None:
        """Run the setup handler on a session you built (e.g. after subscribing to it)."""
        handler = asyncio.create_task(self._run(session), name=f"setup:{session.id}")
        name = getattr(self.setup, "__name__", "setup")
        session._owner_task = handler
        started = asyncio.create_task(session.wait_started())
        done, _ = await asyncio.wait({handler, started}, timeout=self.start_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if started in done:
            self.sessions.add(session)
            return
        started.cancel()
        if handler in done:
            exc = handler.exception()
            if exc is not None:
                raise exc
            raise SetupError(f"the setup handler {name}() returned without calling "
                             "session.start()")
        handler.cancel()
        await session.close()
        raise SetupError(f"the setup handler {name}() did not start the session within "
                         f"{self.start_timeout_s:g} s (it must `await session.start()`)")

    async def _run(self, session: Session) -> None:
        try:
            await self.setup(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not session.started:
                raise
            log.error("setup handler failed after start", exc_info=True)
            session.report_error(f"setup handler failed: {exc}", fatal=True)
        finally:
            if session.closed:
                self.sessions.discard(session)

    async def close_session(self, session: Session) -> None:
        self.sessions.discard(session)
        await session.close()

    async def close(self) -> None:
        for session in list(self.sessions):
            await self.close_session(session)

    async def serve_ws(self, host: str = "127.0.0.1", port: int = 8765) -> Any:
        """Serve one session per WebSocket connection (see ``localvox.agent.ws``)."""
        from localvox.agent.ws import serve_ws

        return await serve_ws(self, host, port)
