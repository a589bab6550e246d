"""localvox's Pulse and Lightning clients against ``localvox serve`` on 127.0.0.1.

Real faster-whisper and Piper on both sides; the test speech is made with Piper. The server
runs in-process on a free port; the models load once per module.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.asyncio.client import connect

from localvox.asr.pulse import PulseTranscriber
from localvox.audio.base import resample
from localvox.cloud.fallback import FallbackSynthesizer, FallbackTranscriber
from localvox.cloud.ws import CloudRejected, CloudUnavailable
from localvox.config import load_config
from localvox.errors import CloudError
from localvox.serve.server import SpeechServer
from localvox.tts.lightning import LightningSynthesizer

pytestmark = pytest.mark.models

KEY = "test-key-1234"
SENTENCE = "What is the weather like in London today?"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def backends() -> tuple[Any, Any, np.ndarray]:
    """Whisper + Piper loaded once; the test utterance synthesised by Piper at 16 kHz."""
    from localvox.registry import create

    cfg = load_config(use_user_file=False)
    asr = create("asr", "whisper", cfg)
    tts = create("tts", "piper", cfg)
    audio = np.concatenate(tts.synthesize_blocking(SENTENCE))
    speech = resample(audio, tts.sample_rate, 16000)
    pad = np.zeros(4000, np.float32)
    return asr, tts, np.concatenate([pad, speech, pad])


@pytest.fixture
async def server(backends: tuple[Any, Any, np.ndarray]) -> Any:
    asr, tts, _ = backends
    cfg = load_config(use_user_file=False)
    srv = SpeechServer(cfg, api_keys=[KEY, "other-key"], transcriber=asr, synthesizer=tts)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close()


def base(srv: SpeechServer) -> str:
    host, port = srv.address  # type: ignore[misc]
    return f"ws://{host}:{port}"


async def feed_blocks(stream: Any, audio: np.ndarray, block: int = 512) -> list[str]:
    partials = []
    for i in range(0, len(audio), block):
        await stream.feed(audio[i:i + block])
        await asyncio.sleep(0)
        p = await stream.partial()
        if p is not None:
            partials.append(p.text)
    return partials


async def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- full turn


async def test_pulse_and_lightning_clients_run_a_voice_turn(server: SpeechServer,
                                                           backends: Any) -> None:
    asr, _, speech = backends
    stt = PulseTranscriber(api_key=KEY, base_url=base(server))
    # Turn 1: stream while "speaking", partials arrive, finalize gives the transcript.
    s = stt.stream()
    partials = await feed_blocks(s, speech)
    for _ in range(100):  # let the last partials land
        p = await s.partial()
        if p is not None:
            partials.append(p.text)
        if partials:
            break
        await asyncio.sleep(0.05)
    final = await s.finish()
    assert final.is_final
    assert words(final.text)[-4:] == ["like", "in", "london", "today"]
    assert partials, "no partial transcript while speaking"
    assert final.audio_s == pytest.approx(len(speech) / 16000, abs=0.01)
    # Turn 2 on the same socket.
    s2 = stt.stream()
    await feed_blocks(s2, speech[: len(speech) // 2 + 8000])
    second = await s2.finish()
    assert "weather" in words(second.text)
    assert stt.connects == 1
    # Reply: LLM-style text pieces with continue, then flush.
    tts = LightningSynthesizer(api_key=KEY, base_url=base(server), voice_id="joe",
                               sample_rate=24000)
    req = tts.request()
    for piece in ["It is sunny ", "and warm ", "today."]:
        await req.send(piece)
    await req.flush()
    chunks = [c async for c in req]
    assert req.complete and chunks and all(c.sample_rate == 24000 for c in chunks)
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) / 24000 > 0.8
    assert float(np.sqrt(np.mean(audio ** 2))) > 0.02
    heard = await asr.transcribe(resample(audio, 24000, 16000))
    assert {"sunny", "today"} <= set(words(heard.text))
    # Next turn reuses the socket (the server keeps it open after complete).
    again = [c async for c in tts.synthesize("Goodbye.")]
    assert again and tts.connects == 1
    await tts.close()
    await stt.close()
    await wait_for(lambda: not server.sessions)


async def test_close_stream_gets_is_last_then_the_server_closes(server: SpeechServer,
                                                                backends: Any) -> None:
    _, _, speech = backends
    url = f"{base(server)}/waves/v1/pulse/get_text?language=en&sample_rate=16000"
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
        for i in range(0, len(pcm), 4096):
            await ws.send(pcm[i:i + 4096])
        await ws.send(json.dumps({"type": "end"}))  # legacy alias of close_stream
        msgs = [json.loads(m) async for m in ws]
    last = msgs[-1]
    assert last["is_final"] and last["is_last"] and "london" in words(last["transcript"])
    assert ws.close_code == 1000


# ---------------------------------------------------------------- failure paths


async def test_wrong_key_is_a_401_one_line_error_without_the_key(server: SpeechServer,
                                                                 backends: Any) -> None:
    _, _, speech = backends
    bad = "sk-wrong-secret-999"
    stt = PulseTranscriber(api_key=bad, base_url=base(server), backoff_s=())
    with pytest.raises(CloudRejected) as info:
        await stt.transcribe(speech[:16000])
    msg = str(info.value)
    assert "401" in msg and "SMALLEST_API_KEY" in msg and bad not in msg and "\n" not in msg
    tts = LightningSynthesizer(api_key=bad, base_url=base(server))
    with pytest.raises(CloudRejected, match="401"):
        [c async for c in tts.synthesize("Hello.")]
    with pytest.raises(websockets.InvalidStatus) as raw:
        await connect(f"{base(server)}/waves/v1/stt/live?model=pulse&language=en")
    assert raw.value.response.status_code == 401


async def test_bad_model_or_parameter_is_a_400(server: SpeechServer) -> None:
    stt = PulseTranscriber(api_key=KEY, base_url=base(server), query={"model": "pulse-pro"},
                           backoff_s=())
    with pytest.raises(CloudRejected, match="HTTP 400.*pulse-pro does not stream"):
        await stt.transcribe(np.zeros(8000, np.float32))
    for query in ("model=pulse&language=en&sample_rate=11025", "language=en",
                  "model=pulse&language=en&encoding=opus"):
        with pytest.raises(websockets.InvalidStatus) as raw:
            await connect(f"{base(server)}/waves/v1/stt/live?{query}",
                          additional_headers={"Authorization": f"Bearer {KEY}"})
        assert raw.value.response.status_code == 400


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(CloudError, match="set the SMALLEST_API_KEY environment variable"):
        PulseTranscriber(api_key="")
    with pytest.raises(CloudError, match="SMALLEST_API_KEY"):
        LightningSynthesizer(api_key="")


async def test_socket_dropped_mid_utterance_reconnects_without_losing_the_turn(
        server: SpeechServer, backends: Any) -> None:
    _, _, speech = backends
    stt = PulseTranscriber(api_key=KEY, base_url=base(server), backoff_s=(0.05, 0.1, 0.2))
    s = stt.stream()
    half = len(speech) // 2
    await feed_blocks(s, speech[:half])
    await wait_for(lambda: sum(x.bytes_in for x in server.sessions) >= half)  # server has it
    (session,) = server.sessions
    session.ws.transport.abort()  # the network drops the socket
    await feed_blocks(s, speech[half:])
    final = await s.finish()
    assert words(final.text)[-4:] == ["like", "in", "london", "today"]
    assert "weather" in words(final.text)
    assert stt.connects == 2
    await stt.close()


async def test_server_closing_before_complete_is_a_clear_error_then_recovers(
        server: SpeechServer) -> None:
    tts = LightningSynthesizer(api_key=KEY, base_url=base(server), voice_id="joe",
                               sample_rate=16000)
    req = tts.request()
    await req.say("This is a long answer. It has several sentences. Each one takes a while. "
                  "The server will go away before it is done.")
    with pytest.raises(CloudUnavailable, match="closed the stream before completion"):
        async for _ in req:
            for session in list(server.sessions):  # after the first chunk: server goes away
                await session.ws.close(1011)
    assert not req.complete
    chunks = [c async for c in tts.synthesize("Still here.")]
    assert chunks and tts.connects == 2
    await tts.close()


async def test_client_going_away_mid_synthesis_frees_the_session(server: SpeechServer) -> None:
    url = f"{base(server)}/waves/v1/tts/live"
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {KEY}"})
    text = " ".join(f"Sentence number {i} is here to keep the synthesiser busy." for i in range(12))
    await ws.send(json.dumps({"voice_id": "joe", "text": text, "sample_rate": 16000}))
    first = json.loads(await ws.recv())
    assert first["status"] == "chunk"
    (session,) = server.sessions
    tasks = list(session.tasks)
    ws.transport.abort()  # the client vanishes
    await wait_for(lambda: not server.sessions)
    assert all(t.done() for t in tasks)
    assert session.requests_done == 0
    await asyncio.sleep(0.3)
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith(("tts-", "stt-"))]
    assert not left


async def test_barge_in_discards_the_rest_and_the_next_reply_is_clean(server: SpeechServer,
                                                                      backends: Any) -> None:
    asr = backends[0]
    tts = LightningSynthesizer(api_key=KEY, base_url=base(server), voice_id="joe",
                               sample_rate=16000)
    req = tts.request()
    await req.say("Once upon a time there was a very long story. It went on and on. "
                  "Nobody wanted to hear all of it.")
    async for _ in req:
        await req.cancel()  # the user starts talking
    assert req.cancelled and not req.complete
    audio = np.concatenate([c.samples async for c in tts.synthesize("Okay, stopping.")])
    heard = words((await asr.transcribe(audio)).text)
    assert "stopping" in heard and "story" not in heard
    assert tts.connects == 2  # barge-in drops the socket so the server stops synthesising
    await tts.close()
    await wait_for(lambda: not server.sessions)


async def test_idle_timeout_frame_then_the_client_reconnects(server: SpeechServer) -> None:
    tts = LightningSynthesizer(api_key=KEY, base_url=base(server), voice_id="joe",
                               sample_rate=8000, idle_timeout_s=0.4)
    assert [c async for c in tts.synthesize("One.")]
    await wait_for(lambda: not server.sessions)  # the server timed the idle socket out
    assert [c async for c in tts.synthesize("Two.")]
    assert tts.connects == 2
    await tts.close()


async def test_malformed_frames_get_error_frames_and_the_session_goes_on(
        server: SpeechServer, backends: Any) -> None:
    _, _, speech = backends
    hdr = {"Authorization": f"Bearer {KEY}"}
    async with connect(f"{base(server)}/waves/v1/tts/live", additional_headers=hdr) as ws:
        for bad in ["not json", '{"text":"hi"}', '{"voice_id":"v","text":"x","speed":9}']:
            await ws.send(bad)
            err = json.loads(await ws.recv())
            assert err["status"] == "error" and err["message"]
        await ws.send(b"\x00\x01")
        assert json.loads(await ws.recv())["status"] == "error"
        await ws.send(json.dumps({"voice_id": "v", "text": "Fine.", "sample_rate": 8000,
                                  "request_id": "r-1"}))
        frames = []
        while not frames or frames[-1]["status"] != "complete":
            frames.append(json.loads(await ws.recv()))
        assert frames[0]["status"] == "chunk" and frames[-1]["external_request_id"] == "r-1"
    url = f"{base(server)}/waves/v1/stt/live?model=pulse&language=en"
    async with connect(url, additional_headers=hdr) as ws:
        await ws.send("{oops")
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.send(b"\x01")  # half a sample: carried over, not a crash
        pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
        await ws.send(pcm[1:])
        await ws.send(json.dumps({"type": "finalize"}))
        msg = json.loads(await ws.recv())
        while not msg["is_final"]:
            msg = json.loads(await ws.recv())
        assert msg["from_finalize"] and "london" in words(msg["transcript"])


async def test_concurrent_sessions_and_the_session_limit(server: SpeechServer,
                                                         backends: Any) -> None:
    _, _, speech = backends

    async def one() -> str:
        stt = PulseTranscriber(api_key=KEY, base_url=base(server))
        try:
            return (await stt.transcribe(speech)).text
        finally:
            await stt.close()

    texts = await asyncio.gather(one(), one(), one())
    assert all("london" in words(t) for t in texts)
    server.max_sessions = 1
    hdr = {"Authorization": f"Bearer {KEY}"}
    async with connect(f"{base(server)}/waves/v1/tts/live", additional_headers=hdr):
        await wait_for(lambda: len(server.sessions) == 1)
        async with connect(f"{base(server)}/waves/v1/tts/live", additional_headers=hdr) as ws2:
            with pytest.raises(websockets.ConnectionClosed):
                await ws2.recv()
            assert ws2.close_code == 1008


async def test_fallback_uses_local_backends_while_the_cloud_is_unreachable(
        backends: Any) -> None:
    asr, piper, speech = backends
    notes: list[str] = []
    dead = "ws://127.0.0.1:9"  # nothing listens on the discard port
    stt = FallbackTranscriber(PulseTranscriber(api_key=KEY, base_url=dead, backoff_s=(0.01,)),
                              asr, notes.append)
    s = stt.stream()
    await feed_blocks(s, speech, block=4000)
    final = await s.finish()
    assert "london" in words(final.text)
    assert notes and "cannot reach Pulse" in notes[0] and "using local whisper" in notes[0]
    assert stt.name.startswith("whisper")
    tts = FallbackSynthesizer(LightningSynthesizer(api_key=KEY, base_url=dead), piper,
                              notes.append)
    chunks = [c async for c in tts.synthesize("Hello there.")]
    assert chunks and chunks[0].sample_rate == piper.sample_rate
    assert "using local piper" in notes[-1]


async def test_the_key_never_reaches_the_logs(server: SpeechServer, backends: Any,
                                              caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    stt = PulseTranscriber(api_key=KEY, base_url=base(server))
    assert (await stt.transcribe(backends[2][:16000])).is_final
    await stt.close()
    assert "GET /waves/v1/stt/live" in caplog.text  # the handshake was logged, minus the key
    assert KEY not in caplog.text and KEY not in repr(stt)
