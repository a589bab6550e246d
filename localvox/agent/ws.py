"""Serve agent sessions over a WebSocket: one session per connection, JSON event frames.

For front ends other than the terminal (a web page, another process). The client sends
events as JSON text frames (``{"type": "agent.transcript.update", "role": "user", ...}``,
``{"type": "system.llm.request", "request_id": "1"}``) and receives every event that
reaches the session's sink, in order. A malformed frame is answered with an
``agent.error`` warning and the conversation goes on. After an end call or a transfer the
server lets the last events out, then closes the connection; a client that disconnects
closes its session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from localvox.agent.events import ErrorEvent, Event
from localvox.agent.session import Session, SessionClosedError

if TYPE_CHECKING:
    from localvox.agent.app import App

__all__ = ["serve_ws"]

log = logging.getLogger(__name__)


async def serve_ws(app: App, host: str = "127.0.0.1", port: int = 8765,
                   drain_s: float = 5.0) -> Any:
    """Start serving and return the ``websockets`` server (``close()`` it to stop).

    ``port=0`` picks a free port: read it from ``server.sockets[0].getsockname()``.
    """
    from websockets.asyncio.server import serve

    async def handle(connection: Any) -> None:
        await _run_connection(app, connection, drain_s)

    return await serve(handle, host, port)


async def _run_connection(app: App, connection: Any, drain_s: float) -> None:
    from websockets.exceptions import ConnectionClosed

    session = Session({"transport": "websocket"})
    stream = session.events()  # before start, so the client also gets agent.ready
    try:
        await app.start_session(session)
    except Exception as exc:
        await connection.send(ErrorEvent(message=f"could not start the session: {exc}",
                                         severity="fatal").to_json())
        await connection.close()
        return

    async def pump() -> None:
        async for event in stream:
            await connection.send(event.to_json())
        await connection.close()

    async def finish_after_end() -> None:
        await session.wait_until_complete()
        await session.idle(drain_s)
        await app.close_session(session)

    sender = asyncio.create_task(pump())
    ender = asyncio.create_task(finish_after_end())
    try:
        async for frame in connection:
            try:
                event = Event.from_json(frame)
            except ValueError as exc:
                await connection.send(ErrorEvent(message=f"ignored a bad frame: {exc}",
                                                 severity="warning").to_json())
                continue
            try:
                await session.send(event)
            except SessionClosedError:
                break
    except ConnectionClosed:
        pass
    finally:
        ender.cancel()
        await app.close_session(session)
        try:
            await asyncio.wait_for(sender, drain_s)
        except (asyncio.TimeoutError, ConnectionClosed):
            sender.cancel()
        except Exception:
            log.debug("websocket sender ended with an error", exc_info=True)
