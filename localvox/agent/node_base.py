"""The node machinery: ``Node`` (queue, task, forwarding, interrupts, error reports) and
``BackgroundAgentNode``.

Why apart from ``output_node``: this is the Pipecat processor contract every node shares
(see ``nodes`` for it) -- one queue and one task per node, an ``Interrupt`` delivered
synchronously down the graph, a raising ``process_event`` reported as an ``ErrorEvent``
while the event still goes on. The node that talks (``OutputAgentNode``) builds on it.
Import the classes from ``localvox.agent.nodes``, the SDK's path.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import TYPE_CHECKING

from localvox.agent.events import ErrorEvent, Event, Interrupt, LLMRequest
from localvox.errors import LocalvoxError

if TYPE_CHECKING:
    from localvox.agent.session import Session

log = logging.getLogger("localvox.agent.nodes")
"""The SDK's logger name (``localvox.agent.nodes``), the same for every node class."""


class Node:
    """A processing step in a session's graph."""

    def __init__(self, name: str | None = None, interruptible: bool = False) -> None:
        self.name = name or type(self).__name__
        self.interruptible = interruptible
        self.children: list[Node] = []
        self.parents: list[Node] = []
        self.session: Session | None = None
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._current: asyncio.Task[None] | None = None
        self._inflight: dict[int, bool] = {}  # id(event) -> forwarded yet?

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- graph ----------------------------------------------------------------------------

    def add_child(self, child: Node) -> None:
        if child not in self.children:
            self.children.append(child)
        if self not in child.parents:
            child.parents.append(self)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def busy(self) -> bool:
        """True while an event is being processed or waits in the queue."""
        return self._current is not None or not self._queue.empty()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name=f"node:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        current = self._current
        if current is not None and current is not asyncio.current_task():
            current.cancel()
        if task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await self.on_stop()
        except Exception:
            log.warning("%s.on_stop raised", self.name, exc_info=True)

    async def on_start(self) -> None:
        """Hook: runs in the node's task when the session starts (after ``Ready``)."""

    async def on_stop(self) -> None:
        """Hook: the session is closing."""

    # -- events ---------------------------------------------------------------------------

    def queue_event(self, event: Event) -> None:
        self._queue.put_nowait(event)

    async def send_event(self, event: Event) -> None:
        """Send ``event`` to every child (and to the session's observers)."""
        key = id(event)
        if key in self._inflight:
            self._inflight[key] = True
        if self.session is not None:
            self.session._publish(event, self)
        for child in list(self.children):
            if isinstance(event, Interrupt):
                await child._receive_interrupt(event)
            else:
                child.queue_event(event)

    async def process_event(self, event: Event) -> None:
        """Handle one event. The default forwards it unchanged."""
        await self.send_event(event)

    # -- machinery ------------------------------------------------------------------------

    async def _loop(self) -> None:
        try:
            await self.on_start()
        except Exception as exc:
            await self._report(exc, None, "on_start")
        while True:
            event = await self._queue.get()
            began: list[bool] = []
            task = asyncio.create_task(self._handle(event, began),
                                       name=f"node:{self.name}:{event.type}")
            self._current = task
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                task.cancel()
                raise
            finally:
                self._current = None
            if task.cancelled() and not began and not isinstance(event, LLMRequest):
                await self._handle(event)  # interrupted before it began: nothing is lost

    async def _handle(self, event: Event, began: list[bool] | None = None) -> None:
        if began is not None:
            began.append(True)
        key = id(event)
        self._inflight[key] = self._forwards_on_receive()
        failed = False
        try:
            await self.process_event(event)
        except asyncio.CancelledError:
            failed = True
            raise
        except Exception as exc:
            failed = True
            if isinstance(event, ErrorEvent) and event.payload.get("node"):
                log.warning("%s failed on an error report; not reporting again", self.name,
                            exc_info=True)
            else:
                await self._report(exc, event, "process_event")
        finally:
            forwarded = self._inflight.pop(key, True)
            if failed and not forwarded:
                await self.send_event(event)

    def _forwards_on_receive(self) -> bool:
        return False

    async def _receive_interrupt(self, event: Interrupt) -> None:
        if self.interruptible:
            await self._interrupt()
        await self._handle(event)

    async def _interrupt(self) -> None:
        """Cancel the event being processed and drop queued LLM requests (now stale)."""
        kept: list[Event] = []
        while not self._queue.empty():
            queued = self._queue.get_nowait()
            if not isinstance(queued, LLMRequest):
                kept.append(queued)
        for queued in kept:
            self._queue.put_nowait(queued)
        task = self._current
        if task is None or task.done():
            return
        task.cancel()
        if task is not asyncio.current_task():
            await asyncio.wait({task})

    async def _report(self, exc: BaseException, event: Event | None, where: str) -> None:
        user_error = isinstance(exc, LocalvoxError)
        warning = user_error or isinstance(self, BackgroundAgentNode)
        if user_error:
            message = str(exc)
        else:
            message = f"{type(exc).__name__} in {self.name}.{where}: {exc}"
        log.log(logging.WARNING if warning else logging.ERROR, "%s", message,
                exc_info=not user_error)
        payload = {"node": self.name, "error_class": type(exc).__name__,
                   "traceback": "".join(traceback.format_exception(exc))}
        if event is not None:
            payload["event_type"] = event.type
        await self.send_event(ErrorEvent(message=message,
                                         severity="warning" if warning else "fatal",
                                         payload=payload))


class BackgroundAgentNode(Node):
    """Observes events off the critical path (audit logs, sentiment, analytics).

    Override ``process_event`` to look at events; forwarding is done for you. A background
    node added without edges observes *every* event of the session (the platform's and
    every node's) through its own queue, in parallel with the output node. Placed in the
    graph with edges, it forwards each event to its children the moment it arrives and
    only then processes it, so it never delays or loses an event for the nodes after it.
    """

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name, interruptible=False)
        self._observer = False

    async def process_event(self, event: Event) -> None:
        """Observe one event (no forwarding needed)."""

    def queue_event(self, event: Event) -> None:
        if not self._observer:
            if self.session is not None:
                self.session._publish(event, self)
            for child in list(self.children):
                child.queue_event(event)
        self._queue.put_nowait(event)

    def _observe(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def _forwards_on_receive(self) -> bool:
        return True

    async def _receive_interrupt(self, event: Interrupt) -> None:
        if not self._observer:
            for child in list(self.children):
                await child._receive_interrupt(event)
        self._queue.put_nowait(event)
