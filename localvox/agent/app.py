"""App: runs one :class:`Session` per conversation from a setup handler.

    async def setup(session: Session) -> None:
        session.add_node(MyAgent())
        await session.start()
        await session.wait_until_complete()

    app = App(setup)
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

__all__ = ["App", "SetupHandler"]

log = logging.getLogger(__name__)

SetupHandler = Callable[[Session], Awaitable[None]]


class App:
    def __init__(self, setup: SetupHandler, *, start_timeout_s: float = 30.0) -> None:
        self.setup = setup
        self.start_timeout_s = start_timeout_s
        self.sessions: set[Session] = set()

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
            raise RuntimeError("the setup handler returned without calling session.start()")
        handler.cancel()
        await session.close()
        raise TimeoutError(f"the setup handler did not start the session within "
                           f"{self.start_timeout_s:g} s")

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
