"""Config: defaults, override order, and one-line errors for bad keys and values."""

from __future__ import annotations

from pathlib import Path

import pytest

from localvox.config import Config, load_config, parse_override, save_user_settings
from localvox.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "localvox" / "config.toml"


def test_defaults_come_from_default_toml() -> None:
    cfg = load_config()
    assert cfg.wake.model == "hey_jarvis"
    assert cfg.llm.backend == "llama_cpp"
    assert cfg.asr.model == "whisper_tiny_en"
    assert "and" in cfg.endpoint.continuation_words
    assert cfg.agent.system_prompt.startswith("You are localvox")


def test_every_default_key_is_a_typed_field() -> None:
    # default.toml is the single source of defaults: loading it must fill every section.
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert isinstance(cfg.vad.threshold, float)
    assert isinstance(cfg.audio.sample_rate, int)


def test_override_order_user_then_file_then_flags(tmp_path: Path, isolated_xdg: Path) -> None:
    isolated_xdg.parent.mkdir(parents=True)
    isolated_xdg.write_text('[wake]\nmodel = "alexa"\nthreshold = 0.6\n[asr]\nbeam_size = 2\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[wake]\nmodel = "hey_mycroft"\n')
    cfg = load_config(extra, {"asr": {"beam_size": 5}})
    assert cfg.wake.model == "hey_mycroft"      # --config beats the user file
    assert cfg.wake.threshold == 0.6            # user file beats defaults
    assert cfg.asr.beam_size == 5               # flags beat everything
    assert cfg.sources[-2:] == [str(isolated_xdg), str(extra)]


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[asr]\nbeem_size = 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "asr.beem_size" in str(err.value) and str(bad) in str(err.value)


def test_unknown_section(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[asrr]\nmodel = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown section \[asrr\]"):
        load_config(bad)


@pytest.mark.parametrize("text, fragment", [
    ("[wake]\nthreshold = 'high'\n", "wake.threshold"),
    ("[audio]\nsample_rate = 16000.5\n", "audio.sample_rate"),
    ("[pipeline]\nbarge_in = 1\n", "pipeline.barge_in"),
    ("[llm]\nbackend = 'gpt'\n", "expected one of llama_cpp, openai"),
    ("[endpoint]\ncontinuation_words = 'and'\n", "list of strings"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, text: str, fragment: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[wake\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_int_accepted_where_float_expected(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[wake]\nthreshold = 1\n")
    assert load_config(f).wake.threshold == 1.0


def test_parse_override() -> None:
    assert parse_override("wake.threshold=0.7") == ("wake", "threshold", 0.7)
    assert parse_override("llm.base_url=http://x/v1") == ("llm", "base_url", "http://x/v1")
    assert parse_override("pipeline.barge_in=false") == ("pipeline", "barge_in", False)
    with pytest.raises(ConfigError):
        parse_override("nokey")


def test_model_overrides_section(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[models]\nwhisper_tiny_en = "/opt/my-whisper"\n')
    assert load_config(f).models == {"whisper_tiny_en": "/opt/my-whisper"}


def test_save_user_settings_validates_and_persists(isolated_xdg: Path) -> None:
    save_user_settings({"wake": {"model": "alexa"}})
    assert load_config().wake.model == "alexa"
    with pytest.raises(ConfigError):
        save_user_settings({"wake": {"threshold": "loud"}})
    assert load_config().wake.model == "alexa"  # the bad write changed nothing
