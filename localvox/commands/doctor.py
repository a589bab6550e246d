"""``localvox doctor``: check sound devices, models and the LLM backend; say what to fix.

No sound card is a warning, not a failure: typed conversation still works.
"""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass
from typing import Any

NAME = "doctor"
HELP = "check audio devices, models and the LLM backend, and print what to fix"


@dataclass
class Check:
    area: str
    level: str  # ok, warning, error
    message: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--echo", action="store_true",
                   help="also measure the speaker-to-microphone echo path with a short chirp")


def check_audio(config: Any) -> list[Check]:
    try:
        from localvox.audio.portaudio import probe
    except ImportError as err:  # pragma: no cover - the module ships with localvox
        return [Check("audio", "warning", f"audio support unavailable ({err})")]
    ok, message = probe(config)
    return [Check("audio", "ok" if ok else "warning", message)]


def check_models(config: Any) -> list[Check]:
    from localvox.modelpacks import ModelResolver

    resolver = ModelResolver(config.models)
    needed = {
        "asr": config.asr.model if config.asr.backend == "whisper" else None,
        "tts": config.tts.voice if config.tts.backend == "piper" else None,
        "wake": config.wake.model if config.wake.mode == "wake" else None,
        "vad": config.vad.model if config.vad.backend == "silero" else None,
        "llm": config.llm.model if config.llm.backend == "llama_cpp" else None,
        # the wake word's second stage and the end-of-turn model load lazily, so a missing
        # pack showed only once the first candidate (or pause) came, as a degraded notice
        "wake verifier": config.wake.verifier_model
        if config.wake.mode == "wake" and config.wake.backend == "two_stage" else None,
        "end of turn": config.endpoint.smart_turn_model if config.endpoint.smart_turn else None,
    }
    checks = []
    for role, model_id in needed.items():
        if model_id is None:
            continue
        if model_id not in resolver.specs and model_id not in resolver.overrides:
            from pathlib import Path

            ok = Path(model_id).expanduser().exists()
            checks.append(Check(f"model {role}", "ok" if ok else "error",
                                f"{model_id}" if ok else f"{model_id} does not exist"))
            continue
        st = resolver.status(model_id, verify=True)
        level = "ok" if st.status in ("ok", "custom") else "error"
        detail = f"{st.id} ({st.source})" if level == "ok" else f"{st.id}: {st.status} {st.detail}"
        checks.append(Check(f"model {role}", level, detail))
    if config.wake.mode == "wake":
        for support in ("oww_melspectrogram", "oww_embedding"):
            st = resolver.status(support, verify=True)
            if st.status not in ("ok", "custom"):
                checks.append(Check("model wake", "error", f"{support}: {st.status} {st.detail}"))
    return checks


def check_llm(config: Any) -> list[Check]:
    if config.llm.backend == "llama_cpp":
        if importlib.util.find_spec("llama_cpp") is None:
            return [Check("llm", "error", "llama-cpp-python is not installed: run scripts/setup.sh")]
        return [Check("llm", "ok", f"llama.cpp in-process, model {config.llm.model}")]
    import httpx

    url = config.llm.base_url.rstrip("/") + "/models"
    try:
        r = httpx.get(url, timeout=3.0)
        r.raise_for_status()
        return [Check("llm", "ok", f"OpenAI-compatible server at {config.llm.base_url}")]
    except httpx.HTTPError as err:
        return [Check("llm", "error", f"cannot reach the LLM server at {config.llm.base_url} "
                      f"({type(err).__name__}); start it or set [llm] base_url")]


def check_cloud(config: Any) -> list[Check]:
    if config.asr.backend != "pulse" and config.tts.backend != "lightning":
        return []
    if not config.cloud.api_key():
        return [Check("cloud", "error", f"cloud speech is selected but ${config.cloud.api_key_env} "
                      "is not set: export it, or use the local backends")]
    return [Check("cloud", "ok", f"API key found in ${config.cloud.api_key_env}")]


def check_echo(config: Any) -> list[Check]:
    try:
        from localvox.audio.echo import measure_echo_path
    except ImportError:
        return [Check("echo", "warning", "echo measurement is not available in this build")]
    try:
        return [Check("echo", "ok", measure_echo_path(config))]
    except Exception as err:  # a device problem must not stop the rest of the report
        return [Check("echo", "warning", f"could not measure the echo path: {err}")]


def run(args: argparse.Namespace, config: Any) -> int:
    checks = check_audio(config) + check_models(config) + check_llm(config) + check_cloud(config)
    if args.echo:
        checks += check_echo(config)
    marks = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}
    width = max(len(c.area) for c in checks)
    for c in checks:
        print(f"[{marks[c.level]}] {c.area:<{width}} {c.message}")
    errors = [c for c in checks if c.level == "error"]
    if errors:
        print(f"\n{len(errors)} problem(s) to fix.")
        return 1
    print("\nAll good." if not any(c.level == "warning" for c in checks)
          else "\nReady (with warnings).")
    return 0
