"""Sessions over a real WebSocket on loopback: JSON event frames both ways."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from localvox.agent import App, OutputAgentNode, Session


class Echo(OutputAgentNode):
    def __init__(self) -> None:
        super().__init__("echo")

    async def generate_response(self):
        last = self.context.last("user")
        if last and "bye" in last["content"]:
            yield "Goodbye."
            await self.end_call("user said bye")
            return
        yield "you said "
        yield last["content"] if last else "nothing"


async def setup(session: Session) -> None:
    session.add_node(Echo())
    await session.start()
    await session.wait_until_complete()


async def read_until(ws, kind: str) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 2)))
    return frames


async def test_websocket_conversation_bad_frame_and_end_call():
    app = App(setup)
    server = await app.serve_ws("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert ready["type"] == "agent.ready"
            assert len(app.sessions) == 1

            await ws.send(json.dumps({"type": "agent.transcript.update", "role": "user",
                                      "content": "hello"}))
            await ws.send(json.dumps({"type": "system.llm.request", "request_id": "r1"}))
            frames = await read_until(ws, "agent.llm.response.end")
            text = "".join(f["text"] for f in frames if f["type"] == "agent.llm.response.chunk")
            assert text == "you said hello"
            assert frames[-1]["request_id"] == "r1"

            await ws.send("{not json")
            error = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert error["type"] == "agent.error" and error["severity"] == "warning"
            assert "ignored a bad frame" in error["message"]
            await ws.send(json.dumps({"type": "no.such.event"}))
            error = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert "unknown event type 'no.such.event'" in error["message"]

            await ws.send(json.dumps({"type": "agent.transcript.update", "role": "user",
                                      "content": "ok bye"}))
            await ws.send(json.dumps({"type": "system.llm.request", "request_id": "r2"}))
            rest = [json.loads(f) async for f in ws]  # the server closes after the end call
            types = [f["type"] for f in rest]
            assert "agent.end_call" in types and types[-1] == "agent.llm.response.end"
        for _ in range(100):
            if not app.sessions:
                break
            await asyncio.sleep(0.01)
        assert app.sessions == set()
    finally:
        server.close()
        await server.wait_closed()
        await app.close()


async def test_client_disconnect_closes_its_session():
    app = App(setup)
    server = await app.serve_ws("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            await asyncio.wait_for(ws.recv(), 2)
            [session] = app.sessions
        await asyncio.wait_for(session.wait_until_complete(), 2)
        for _ in range(100):
            if session.closed:
                break
            await asyncio.sleep(0.01)
        assert session.closed and session.end_reason == "closed"
    finally:
        server.close()
        await server.wait_closed()
