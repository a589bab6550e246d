"""Typed configuration, loaded once.

``config/default.toml`` is the single source of defaults. A user file (XDG config path),
then ``--config FILE``, then command-line overrides are layered on top. Every layer is
checked against the defaults: an unknown key or a value of the wrong type is a
``ConfigError`` naming the key and the file it came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from localvox.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "default.toml"


def xdg_dir(kind: str) -> Path:
    """Return the localvox folder for an XDG base directory kind (config, cache, data, state)."""
    env = {"config": "XDG_CONFIG_HOME", "cache": "XDG_CACHE_HOME",
           "data": "XDG_DATA_HOME", "state": "XDG_STATE_HOME"}[kind]
    fallback = {"config": ".config", "cache": ".cache",
                "data": ".local/share", "state": ".local/state"}[kind]
    base = os.environ.get(env) or str(Path.home() / fallback)
    return Path(base) / "localvox"


def user_config_path() -> Path:
    return xdg_dir("config") / "config.toml"


@dataclass
class AudioConfig:
    input_device: str = ""
    output_device: str = ""
    sample_rate: int = 16000
    frame_ms: int = 32
    playback_block_ms: int = 20


@dataclass
class WakeConfig:
    mode: str = "wake"
    model: str = "hey_jarvis"
    backend: str = "two_stage"
    threshold: float = 0.5
    first_threshold: float = 0.02
    verifier_model: str = "whisper_tiny_en"
    verify_window_s: float = 2.0
    verify_match: float = 0.8
    confident_threshold: float = 0.9
    refractory_s: float = 2.0
    follow_up_s: float = 5.0


@dataclass
class VadConfig:
    backend: str = "silero"
    model: str = "silero_vad"
    threshold: float = 0.5
    hysteresis: float = 0.15
    pre_roll_ms: int = 300
    min_speech_ms: int = 200
    max_utterance_s: float = 30.0


@dataclass
class EndpointConfig:
    complete_silence_ms: int = 400
    incomplete_silence_ms: int = 1200
    default_silence_ms: int = 700
    continuation_words: list[str] = field(default_factory=list)
    smart_turn: bool = True
    smart_turn_model: str = "smart_turn_v3_2"
    smart_turn_silence_ms: int = 128
    smart_turn_threshold: float = 0.8
    smart_turn_agree: bool = True
    smart_turn_reask_ms: int = 0
    smart_turn_threads: int = 1
    unfinished_silence_ms: int = 1000


@dataclass
class AsrConfig:
    backend: str = "whisper"
    model: str = "whisper_tiny_en"
    language: str = "en"
    beam_size: int = 1
    compute_type: str = "int8"
    threads: int = 2
    partial_interval_ms: int = 500
    windowed: bool = True
    bias: bool = True
    bias_max_tokens: int = 128
    nbest: int = 5
    nbest_near: float = 0.0
    nbest_unexplained: bool = True


@dataclass
class LlmConfig:
    backend: str = "llama_cpp"
    model: str = "qwen2_5_coder_1_5b"
    n_ctx: int = 4096
    use_mmap: bool = False
    threads: int = 2
    temperature: float = 0.3
    max_tokens: int = 160
    spoken_max_sentences: int = 3
    spoken_max_chars: int = 320
    tool_call_bias: float = 3.0
    yield_to_speech: bool = True
    read_ahead: bool = True
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key_env: str = "OPENAI_API_KEY"
    remote_model: str = "local"
    timeout_s: float = 30.0
    retries: int = 2
    tool_mode: str = "auto"


@dataclass
class AgentConfig:
    system_prompt: str = ""
    holding_phrase: str = "One moment."
    holding_after_ms: int = 700
    max_tool_rounds: int = 4
    tool_timeout_s: float = 10.0
    notes_db: str = ""
    weather_url: str = ""
    geocode_url: str = ""
    reply_timeout_s: float = 30.0


@dataclass
class TtsConfig:
    backend: str = "piper"
    voice: str = "piper_joe_medium"
    length_scale: float = 1.0
    first_chunk_min_words: int = 3
    max_chunk_chars: int = 220
    first_chunk_max_words: int = 5
    threads: int = 2


@dataclass
class PipelineConfig:
    barge_in: bool = True
    barge_in_threshold: float = 0.85
    barge_in_min_ms: int = 160
    speculative: bool = True
    trace_path: str = ""
    audio_worker: bool = True


@dataclass
class EchoConfig:
    enabled: bool = False
    filter_ms: int = 128
    max_delay_ms: int = 300
    barge_in_threshold: float = 0.5


@dataclass
class CloudConfig:
    api_key_env: str = "SMALLEST_API_KEY"
    base_url: str = "wss://api.smallest.ai"
    stt_model: str = "pulse"
    stt_language: str = "en"
    tts_model: str = "lightning_v3.1"
    tts_voice: str = "magnus"
    tts_sample_rate: int = 24000
    fallback_local: bool = True

    def api_key(self) -> str:
        """The cloud key from the environment (never stored in config files)."""
        return os.environ.get(self.api_key_env, "")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    api_keys: list[str] = field(default_factory=list)
    max_sessions: int = 8
    max_session_audio_s: float = 120.0


@dataclass
class TuiConfig:
    ptt_style: str = "toggle"
    speech_output: bool = True
    theme: str = "textual-dark"


@dataclass
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    echo: EchoConfig = field(default_factory=EchoConfig)
    cloud: CloudConfig = field(default_factory=CloudConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    tui: TuiConfig = field(default_factory=TuiConfig)
    models: dict[str, str] = field(default_factory=dict)
    # Where each value came from is not tracked per key; these are the files that were read.
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("sources", None)
        return data


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("wake", "mode"): ("wake", "ptt", "always"),
    ("wake", "backend"): ("two_stage", "openwakeword"),
    ("vad", "backend"): ("silero", "webrtc"),
    ("asr", "backend"): ("whisper", "pulse"),
    ("llm", "backend"): ("llama_cpp", "openai"),
    ("llm", "tool_mode"): ("auto", "hybrid", "intent", "native"),
    ("tts", "backend"): ("piper", "lightning"),
    ("tui", "ptt_style"): ("hold", "toggle"),
}


def _check_value(section: str, key: str, value: Any, expected: Any, origin: str) -> Any:
    where = f"{section}.{key} in {origin}"
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        choices = _CHOICES.get((section, key))
        if choices and value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    # list[str]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return list(value)


def _merge(config: Config, data: dict[str, Any], origin: str) -> None:
    hints = get_type_hints(Config)
    for section, values in data.items():
        if section == "sources" or section not in hints:
            raise ConfigError(f"unknown section [{section}] in {origin}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] in {origin} must be a table")
        if section == "models":
            for model_id, path in values.items():
                if not isinstance(path, str):
                    raise ConfigError(f"models.{model_id} in {origin}: expected a path string")
                config.models[model_id] = path
            continue
        target = getattr(config, section)
        section_hints = get_type_hints(type(target))
        for key, value in values.items():
            if key not in section_hints:
                raise ConfigError(f"unknown key {section}.{key} in {origin}")
            checked = _check_value(section, key, value, section_hints[key], origin)
            setattr(target, key, checked)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse a ``section.key=value`` override; the value is TOML, or a bare string."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    *,
    use_user_file: bool = True,
) -> Config:
    """Load defaults, then the user file, then ``path``, then ``overrides`` (CLI flags)."""
    config = Config()
    _merge(config, _read_toml(DEFAULT_CONFIG_PATH), str(DEFAULT_CONFIG_PATH))
    config.sources.append(str(DEFAULT_CONFIG_PATH))
    user = user_config_path()
    if use_user_file and user.is_file():
        _merge(config, _read_toml(user), str(user))
        config.sources.append(str(user))
    if path is not None:
        p = Path(path).expanduser()
        _merge(config, _read_toml(p), str(p))
        config.sources.append(str(p))
    if overrides:
        _merge(config, overrides, "command-line flags")
    return config


def save_user_settings(changes: dict[str, dict[str, Any]], path: Path | None = None) -> Path:
    """Merge ``changes`` into the user config file (used by the TUI's settings screen)."""
    import tomli_w

    target = path or user_config_path()
    existing: dict[str, Any] = _read_toml(target) if target.is_file() else {}
    # Validate before writing: a bad value must never reach the file.
    _merge(load_config(use_user_file=False), changes, "settings")
    for section, values in changes.items():
        existing.setdefault(section, {}).update(values)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(existing), encoding="utf-8")
    os.replace(tmp, target)
    return target
