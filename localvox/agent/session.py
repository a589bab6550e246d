"""Session: one conversation, its node graph and its event streams.

Events from the platform (the speech loop, ``localvox chat``, a WebSocket client) enter
at a hidden root node; nodes without parents hang off the root, nodes without children
feed a hidden sink. Everything reaching the sink is what the platform hears
(``events()``, ``turn()``). Separately, every event the session sees (sent in or emitted
by any node) goes once to the ``on_event`` handlers and to background observer nodes,
each through its own queue, so none of them sits on the path of the reply.

Nothing here is global: two sessions in one process share no state.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from localvox.agent.events import (EndCall, ErrorEvent, Event, Interrupt, LLMRequest, Ready,
                                   ResponseEnd, TranscriptUpdate, TransferCall, event_types)
from localvox.agent.nodes import BackgroundAgentNode, Node, OutputAgentNode
from localvox.errors import LocalvoxError

__all__ = ["Session", "EventStream", "SessionClosedError"]

log = logging.getLogger(__name__)

Handler = Callable[..., Any]


class SessionClosedError(LocalvoxError):
    """The conversation is over; start a new session."""


class _Seen:
    """Identity set of events (weak, so a long session does not grow without bound)."""

    def __init__(self) -> None:
        self._refs: weakref.WeakValueDictionary[int, Event] = weakref.WeakValueDictionary()

    def add(self, event: Event) -> bool:
        key = id(event)
        if self._refs.get(key) is event:
            return False
        self._refs[key] = event
        return True


class _Root(Node):
    def __init__(self) -> None:
        super().__init__("root")


class _Sink(Node):
    def __init__(self, session: Session) -> None:
        super().__init__("sink")
        self.session = session

    def queue_event(self, event: Event) -> None:
        self.session._deliver(event)  # type: ignore[union-attr]

    async def _receive_interrupt(self, event: Interrupt) -> None:
        self.session._deliver(event)  # type: ignore[union-attr]


_CLOSED = object()


class EventStream:
    """An async iterator over the events reaching the sink, from its creation on."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._open = True

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if not self._open and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            self._open = False
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: Any) -> None:
        self._queue.put_nowait(item)

    def close(self) -> None:
        """Stop receiving; events already queued can still be read."""
        if self._open:
            self._session._unsubscribe(self)
            self._queue.put_nowait(_CLOSED)


class Session:
    """One conversation. Build the graph, ``await start()``, then talk to it."""

    def __init__(self, initial_variables: dict[str, Any] | None = None, *,
                 session_id: str | None = None) -> None:
        self.id = session_id or uuid.uuid4().hex[:12]
        self.initial_variables: dict[str, Any] = dict(initial_variables or {})
        self.state: dict[str, Any] = {}
        """Per-conversation user state (e.g. a verification level); yours to use."""
        self.end_reason = ""
        self.end_event: EndCall | TransferCall | None = None
        self._nodes: list[Node] = []
        self._observers: list[BackgroundAgentNode] = []
        self._root = _Root()
        self._root.session = self
        self._sink = _Sink(self)
        self._handlers: list[tuple[frozenset[str] | None, Handler, bool]] = []
        self._subscribers: list[EventStream] = []
        self._bus: asyncio.Queue[Event] = asyncio.Queue()
        self._bus_task: asyncio.Task[None] | None = None
        self._published = _Seen()
        self._delivered = _Seen()
        self._started = asyncio.Event()
        self._done = asyncio.Event()
        self._closed = False
        self._owner_task: asyncio.Task[Any] | None = None
        self.tool_gate: Callable[[Any], Awaitable[None]] | None = None
        """Awaited with each ``ToolCall`` after ``ToolCallStart`` and before the tool runs
        (``ToolRegistry.execute`` with this session in its ``RunContext``). The speech
        loop's port holds tools here until a speculative reply is confirmed."""

    def __repr__(self) -> str:
        return f"<Session {self.id} nodes={[n.name for n in self._nodes]}>"

    # -- building -------------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def add_node(self, node: Node) -> None:
        if node.session is not None and node.session is not self:
            raise ValueError(f"{node!r} already belongs to another session")
        if node in self._nodes:
            return
        if self._started.is_set():
            raise RuntimeError("add nodes before session.start()")
        node.session = self
        self._nodes.append(node)

    def add_edge(self, parent: Node, child: Node) -> None:
        """Route ``parent``'s output to ``child`` (both are added if needed)."""
        self.add_node(parent)
        self.add_node(child)
        parent.add_child(child)

    def _check_acyclic(self) -> None:
        state: dict[int, int] = {}  # 1 = on the current path, 2 = done

        def visit(node: Node, path: list[Node]) -> None:
            state[id(node)] = 1
            for child in node.children:
                if state.get(id(child)) == 1:
                    cycle = path[path.index(child):] + [child] if child in path else [node, child]
                    raise ValueError("the node graph has a cycle: "
                                     + " -> ".join(n.name for n in cycle))
                if state.get(id(child)) is None:
                    visit(child, path + [child])
            state[id(node)] = 2

        for node in self._nodes:
            if id(node) not in state:
                visit(node, [node])

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def ended(self) -> bool:
        """True after an end call, a transfer or ``close()``."""
        return self._done.is_set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        """Check and wire the graph, emit ``Ready``, then start every node."""
        if self._started.is_set():
            raise RuntimeError("session already started")
        if self._closed:
            raise SessionClosedError("this session is closed; open a new one")
        self._check_acyclic()
        for node in self._nodes:
            if isinstance(node, BackgroundAgentNode) and not node.parents and not node.children:
                node._observer = True
                node.children = [self._sink]
                self._observers.append(node)
                continue
            if not node.parents:
                self._root.add_child(node)
            if not node.children:
                node.add_child(self._sink)
        self._bus_task = asyncio.create_task(self._run_bus(), name=f"session:{self.id}:bus")
        self._emit(Ready())
        for node in self._nodes:
            await node.start()
        self._started.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def wait_until_complete(self) -> None:
        """Return when the call ends (end call, transfer) or the session is closed."""
        await self._done.wait()

    async def idle(self, timeout: float | None = None) -> bool:
        """Wait until no node has work queued or in progress; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while any(n.busy for n in self._nodes) or not self._bus.empty():
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        """Stop every node and end every stream. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if not self._done.is_set():
            self.end_reason = self.end_reason or "closed"
            self._done.set()
        for node in self._nodes:
            await node.stop()
        if self._bus_task is not None and self._bus_task is not asyncio.current_task():
            self._bus_task.cancel()
            await asyncio.gather(self._bus_task, return_exceptions=True)
        owner = self._owner_task
        if owner is not None and owner is not asyncio.current_task() and not owner.done():
            owner.cancel()
        for stream in list(self._subscribers):
            stream.close()

    # -- the platform side ----------------------------------------------------------------

    async def send(self, event: Event) -> None:
        """Deliver an event from the platform into the graph."""
        if self._closed:
            raise SessionClosedError("this session is closed; open a new one")
        self._publish(event, None)
        await self._root.send_event(event)

    async def interrupt(self) -> None:
        """Barge-in: when this returns, interruptible nodes have stopped their reply."""
        await self.send(Interrupt())

    def events(self) -> EventStream:
        """Every event reaching the sink from now on (until the session closes)."""
        stream = EventStream(self)
        if self._closed:
            stream._put(_CLOSED)
        else:
            self._subscribers.append(stream)
        return stream

    async def turn(self, user_text: str | None) -> AsyncIterator[Event]:
        """One exchange: send the user's words and ask for a reply.

        Yields every event reaching the sink until the ``ResponseEnd`` answering this
        request (inclusive). Yields nothing if the call has already ended.
        """
        if self.ended:
            return
        if not any(isinstance(n, OutputAgentNode) for n in self._nodes):
            raise RuntimeError("this session has no OutputAgentNode to answer a turn")
        request_id = uuid.uuid4().hex[:12]
        stream = self.events()
        try:
            if user_text is not None:
                await self.send(TranscriptUpdate(role="user", content=user_text))
            await self.send(LLMRequest(request_id=request_id))
            async for event in stream:
                yield event
                if isinstance(event, ResponseEnd) and event.request_id == request_id:
                    return
        finally:
            stream.close()

    # -- handlers -------------------------------------------------------------------------

    def on_event(self, *names: str | type[Event]) -> Callable[[Handler], Handler]:
        """Decorator: call ``handler(event)`` (or ``handler(session, event)``) for events
        of these types (``"*"`` for all). Sync or async; run in order, off the reply path.
        """
        keys = self._event_keys(names)

        def register(handler: Handler) -> Handler:
            self.add_event_handler(keys, handler)
            return handler

        return register

    def add_event_handler(self, names: str | type[Event] | frozenset[str] | None,
                          handler: Handler) -> None:
        if names is None or isinstance(names, frozenset):
            keys = names
        else:
            keys = self._event_keys((names,))
        self._handlers.append((keys, handler, _wants_session(handler)))

    @staticmethod
    def _event_keys(names: tuple[str | type[Event], ...]) -> frozenset[str] | None:
        if not names:
            raise ValueError('on_event needs an event type (or "*" for every event)')
        keys: set[str] = set()
        known = event_types()
        for name in names:
            if name == "*":
                return None
            if isinstance(name, type) and issubclass(name, Event):
                name = name.type
            if not isinstance(name, str) or name not in known:
                raise ValueError(f"unknown event type {name!r}; known: "
                                 + ", ".join(sorted(known)))
            keys.add(name)
        return frozenset(keys)

    async def _run_bus(self) -> None:
        while True:
            event = await self._bus.get()
            for keys, handler, wants_session in list(self._handlers):
                if keys is not None and event.type not in keys:
                    continue
                try:
                    result = handler(self, event) if wants_session else handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.warning("event handler %r raised on %s", handler, event.type,
                                exc_info=True)

    # -- internals ------------------------------------------------------------------------

    def _publish(self, event: Event, origin: Node | None) -> None:
        """First sighting of an event: observers, handlers, end-of-call bookkeeping."""
        if not self._published.add(event):
            return
        if isinstance(event, (EndCall, TransferCall)) and not self._done.is_set():
            self.end_event = event
            self.end_reason = "end_call" if isinstance(event, EndCall) else "transfer"
            self._done.set()
        for observer in self._observers:
            if observer is not origin:
                observer._observe(event)
        self._bus.put_nowait(event)

    def _emit(self, event: Event) -> None:
        """An event from the session itself, straight to the sink."""
        self._publish(event, None)
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        if not self._delivered.add(event):
            return
        for stream in list(self._subscribers):
            stream._put(event)

    def _unsubscribe(self, stream: EventStream) -> None:
        if stream in self._subscribers:
            self._subscribers.remove(stream)

    def report_error(self, message: str, *, fatal: bool = False,
                     payload: dict[str, Any] | None = None) -> None:
        """Tell the platform about a problem outside any node (e.g. a setup failure)."""
        self._emit(ErrorEvent(message=message, severity="fatal" if fatal else "warning",
                              payload=payload or {}))


def _wants_session(handler: Handler) -> bool:
    """Atoms handlers take ``(session, event)``; plain ones take ``(event)``."""
    try:
        params = [p for p in inspect.signature(handler).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2
