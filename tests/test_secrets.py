"""API keys never appear in logs, traces, audit rows or error messages.

Recognisable keys are put in ``SMALLEST_API_KEY`` and ``OPENAI_API_KEY``; then calls are
made to fail in the ways that tempt code to print them: a server that refuses the key and
*echoes it back* in its error body (OpenAI's real API does, partly masked), a connection
refused, and the whole CLI (``chat``, ``run`` with its trace file, the bank example with
its audit database) pointed at that server with verbose logging. Every output, log record,
exception text and written file is scanned for the keys (and for their distinctive middle
part, so a key cut or masked at the ends is still caught).
"""

from __future__ import annotations

import logging
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import FIXTURES_DIR, model_marks

ROOT = Path(__file__).resolve().parent.parent
OPENAI_KEY = "sk-LVXSECRETopenai7f3a9c2e1b"
SMALLEST_KEY = "smk-LVXSECRETsmallest4d8e6f0a"
NEEDLES = (OPENAI_KEY, SMALLEST_KEY, "LVXSECRETopenai", "LVXSECRETsmallest")


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [n for n in NEEDLES if n in text]


class _EchoKeyHandler(socketserver.StreamRequestHandler):
    """Answers any HTTP request (or WebSocket upgrade) with 401 and a body quoting the key
    it was sent -- the worst case for an error message built from the response.
    ``echo = False``: a plain 401 that does not repeat the key."""

    echo = True

    def handle(self) -> None:
        headers = []
        try:
            self.rfile.readline()
            while True:
                line = self.rfile.readline(65536)
                if not line or line in (b"\r\n", b"\n"):
                    break
                headers.append(line.decode("latin-1"))
        except OSError:
            return
        sent = " ".join(headers)
        if self.echo:
            body = ('{"error": {"message": "Incorrect API key provided: ' +
                    (OPENAI_KEY if OPENAI_KEY in sent else SMALLEST_KEY) +
                    '. Headers seen: ' + sent.replace('"', "'").replace("\r\n", " ") +
                    '", "type": "invalid_request_error"}}').encode()
        else:
            body = b'{"error": {"message": "Incorrect API key provided.", "type": "auth"}}'
        self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + body)


class _RejectHandler(_EchoKeyHandler):
    echo = False


def _serve(handler: type) -> Iterator[str]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    """401 whose body quotes the key it was sent."""
    yield from _serve(_EchoKeyHandler)


@pytest.fixture(scope="module")
def reject_server() -> Iterator[str]:
    """401 that does not repeat the key (most real services)."""
    yield from _serve(_RejectHandler)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("SMALLEST_API_KEY", SMALLEST_KEY)


def secret_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OPENAI_API_KEY=OPENAI_KEY,
               SMALLEST_API_KEY=SMALLEST_KEY, XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    return env


def openai_config(base_url: str):
    from localvox.config import load_config

    config = load_config(use_user_file=False)
    config.llm.backend = "openai"
    config.llm.base_url = base_url
    config.llm.retries = 0
    config.llm.timeout_s = 5.0
    return config


# --------------------------------------------------------------------------------------
# Error messages and logs, in process
# --------------------------------------------------------------------------------------


async def test_llm_key_rejected_and_echoed_by_server_is_not_in_error_or_logs(
        echo_server, keys, caplog):
    from localvox.agent.assistant import create_llm
    from localvox.errors import LocalvoxError

    caplog.set_level(logging.DEBUG)
    llm = create_llm(openai_config(f"http://{echo_server}/v1"))
    assert not leaks(repr(llm)) and not leaks(str(vars(llm).get("name", "")))
    with pytest.raises(LocalvoxError) as err:
        async for _ in llm.chat([{"role": "user", "content": "hi"}], stream=True):
            pass
    assert "401" in str(err.value)
    assert not leaks(str(err.value)), str(err.value)
    assert not leaks(repr(err.value))
    assert not leaks(caplog.text), caplog.text[-500:]


async def test_llm_key_rejected_error_and_logs_have_no_key(reject_server, keys, caplog):
    from localvox.agent.assistant import create_llm
    from localvox.errors import LocalvoxError

    caplog.set_level(logging.DEBUG)
    llm = create_llm(openai_config(f"http://{reject_server}/v1"))
    with pytest.raises(LocalvoxError) as err:
        async for _ in llm.chat([{"role": "user", "content": "hi"}], stream=True):
            pass
    assert "401" in str(err.value)
    assert not leaks(str(err.value)) and not leaks(caplog.text)


async def test_llm_connection_refused_error_has_no_key(keys, caplog):
    from localvox.agent.assistant import create_llm
    from localvox.errors import LocalvoxError

    caplog.set_level(logging.DEBUG)
    llm = create_llm(openai_config("http://127.0.0.1:9/v1"))
    with pytest.raises(LocalvoxError) as err:
        async for _ in llm.chat([{"role": "user", "content": "hi"}], stream=True):
            pass
    assert not leaks(str(err.value)) and not leaks(caplog.text)


async def test_cloud_key_rejected_and_echoed_is_not_in_errors_or_logs(echo_server, keys,
                                                                      caplog):
    from localvox.asr.pulse import PulseTranscriber
    from localvox.errors import LocalvoxError
    from localvox.tts.lightning import LightningSynthesizer

    caplog.set_level(logging.DEBUG)
    stt = PulseTranscriber(api_key=SMALLEST_KEY, base_url=f"ws://{echo_server}", backoff_s=())
    assert not leaks(repr(stt))
    with pytest.raises(LocalvoxError) as err:
        await stt.transcribe(np.zeros(8000, np.float32))
    assert not leaks(str(err.value)), str(err.value)
    tts = LightningSynthesizer(api_key=SMALLEST_KEY, base_url=f"ws://{echo_server}")
    assert not leaks(repr(tts))
    with pytest.raises(LocalvoxError) as err2:
        [c async for c in tts.synthesize("Hello.")]
    assert not leaks(str(err2.value)), str(err2.value)
    assert not leaks(caplog.text), caplog.text[-500:]


async def test_cloud_unreachable_error_has_no_key(keys, caplog):
    from localvox.asr.pulse import PulseTranscriber
    from localvox.errors import LocalvoxError

    caplog.set_level(logging.DEBUG)
    stt = PulseTranscriber(api_key=SMALLEST_KEY, base_url="ws://127.0.0.1:9", backoff_s=())
    with pytest.raises(LocalvoxError) as err:
        await stt.transcribe(np.zeros(8000, np.float32))
    assert not leaks(str(err.value)) and not leaks(caplog.text)


def test_config_dump_and_doctor_never_show_keys(tmp_path):
    env = secret_env(tmp_path)
    p = subprocess.run([sys.executable, "-m", "localvox", "doctor"], capture_output=True,
                       cwd=ROOT, env=env, timeout=120)
    assert not leaks(p.stdout) and not leaks(p.stderr)


# --------------------------------------------------------------------------------------
# The CLI end to end: chat output, run's trace file, the bank example's audit rows
# --------------------------------------------------------------------------------------


def test_chat_against_a_server_rejecting_the_key(reject_server, tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "localvox", "chat", "--llm", "openai", "--base-url",
         f"http://{reject_server}/v1", "--verbose", "--set", "llm.retries=0",
         "--set", f'agent.notes_db="{tmp_path / "n.sqlite3"}"'],
        input=b"tell me a joke\nwhat is the meaning of life\n", capture_output=True, cwd=ROOT,
        env=secret_env(tmp_path), timeout=120)
    assert b"401" in p.stderr, p.stderr[-800:]
    assert not leaks(p.stdout), p.stdout[-500:]
    assert not leaks(p.stderr), p.stderr[-800:]


@pytest.mark.models
def test_run_trace_and_output_with_failing_llm_have_no_key(reject_server, tmp_path):
    marks = model_marks("whisper_tiny_en", "silero_vad", "piper_joe_medium")
    if marks[1].args[0]:
        pytest.skip(marks[1].kwargs["reason"])
    trace = tmp_path / "turns.jsonl"
    p = subprocess.run(
        [sys.executable, "-m", "localvox", "run", "--input",
         str(FIXTURES_DIR / "espeak_question.wav"), "--no-wake", "--fast", "--trace",
         str(trace), "--llm", "openai", "--base-url", f"http://{reject_server}/v1",
         "--set", "llm.retries=0", "--set", 'llm.tool_mode="native"',
         "--set", f'agent.notes_db="{tmp_path / "n.sqlite3"}"'],
        capture_output=True, cwd=ROOT, env=secret_env(tmp_path), timeout=300)
    assert "Traceback" not in p.stderr.decode("utf-8", "replace"), p.stderr[-1500:]
    assert trace.is_file() and trace.stat().st_size > 0, p.stderr[-800:]
    assert b"401" in p.stderr or b"401" in p.stdout, (p.stdout[-500:], p.stderr[-800:])
    assert not leaks(trace.read_bytes())
    assert not leaks(p.stdout) and not leaks(p.stderr), p.stderr[-800:]


def test_bank_example_audit_rows_have_no_key(reject_server, tmp_path):
    audit = tmp_path / "audit.sqlite3"
    p = subprocess.run(
        [sys.executable, "-m", "localvox", "example", "bank", "--text",
         "--bank-db", str(tmp_path / "bank.sqlite3"), "--audit-db", str(audit),
         "--llm", "openai", "--base-url", f"http://{reject_server}/v1",
         "--set", "llm.retries=0"],
        input=b"hello, what is my balance?\nI want to talk about my OPENAI_API_KEY "
              b"and my key sk-not-a-real-one\n",
        capture_output=True, cwd=ROOT, env=secret_env(tmp_path), timeout=180)
    assert "Traceback" not in p.stderr.decode("utf-8", "replace"), p.stderr[-1500:]
    assert not leaks(p.stdout) and not leaks(p.stderr), p.stderr[-800:]
    if not audit.is_file():
        pytest.fail(f"no audit database written; stderr: {p.stderr[-500:]!r}")
    blob = b"".join(f.read_bytes() for f in tmp_path.glob("audit.sqlite3*"))
    assert not leaks(blob)


def test_redact_removes_whole_and_partly_masked_keys() -> None:
    from localvox.errors import redact

    key = "sk-test-0123456789abcdefXYZ"
    msg = f"Incorrect API key provided: {key[:14]}**********{key[-4:]}; also {key}"
    out = redact(msg, key)
    assert key not in out and key[:14] not in out
    assert out.startswith("Incorrect API key provided: ")
    assert redact("nothing secret here", key) == "nothing secret here"
    assert redact("no key configured", "") == "no key configured"
