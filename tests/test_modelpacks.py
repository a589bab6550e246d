"""The model-pack resolver: finding files in packages, joining split files, checking hashes.

Most tests build a tiny fake "pack" (a package folder on a private search path) so they
exercise the real resolver without touching the installed packs; one test checks the
real installed packs the way `localvox models` does.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from localvox.errors import ModelError
from localvox.modelpacks import ModelFile, ModelResolver, ModelSource, ModelSpec


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def packs(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "fakepack_one" / "data").mkdir(parents=True)
    (root / "fakepack_one" / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (root / "fakepack_one" / "data" / "voice.onnx").write_bytes(b"voice-bytes")
    for i, chunk in enumerate([b"AAAA", b"BBBB", b"CC"]):
        pkg = root / f"fakesplit_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (pkg / "data" / f"model.bin.part{i}").write_bytes(chunk)
    return root


def _manifest() -> dict[str, ModelSpec]:
    joined = b"AAAABBBBCC"
    return {
        "voice": ModelSpec("voice", "tts", "fake voice", "voice.onnx", (
            ModelSource(("fake-pack-one",), (
                ModelFile("voice.onnx", _sha(b"voice-bytes"), 11, ("fakepack_one:data/voice.onnx",)),
            )),
        )),
        "split": ModelSpec("split", "llm", "fake split model", "model.bin", (
            ModelSource(("fake-split-part0", "fake-split-part1", "fake-split-part2"), (
                ModelFile("model.bin", _sha(joined), len(joined),
                          tuple(f"fakesplit_part{i}:data/model.bin.part{i}" for i in range(3))),
            )),
        )),
        "absent": ModelSpec("absent", "asr", "not installed", "", (
            ModelSource(("not-installed-pack",), (
                ModelFile("model.bin", "0" * 64, 1, ("not_installed_pack:model.bin",)),
            )),
        )),
    }


def _resolver(packs: Path, tmp_path: Path, **kw) -> ModelResolver:
    return ModelResolver(manifest=_manifest(), cache_dir=tmp_path / "cache",
                         search_path=[str(packs)], **kw)


def test_single_file_is_used_in_place(packs: Path, tmp_path: Path) -> None:
    path = _resolver(packs, tmp_path).resolve("voice")
    assert path == packs / "fakepack_one" / "data" / "voice.onnx"


def test_missing_pack_names_the_pip_package(packs: Path, tmp_path: Path) -> None:
    r = _resolver(packs, tmp_path)
    with pytest.raises(ModelError, match=r"pip install not-installed-pack"):
        r.resolve("absent")
    st = r.status("absent")
    assert st.status == "missing" and "not-installed-pack" in st.detail


def test_split_file_is_joined_once_atomically(packs: Path, tmp_path: Path) -> None:
    r = _resolver(packs, tmp_path)
    path = r.resolve("split")
    assert path.read_bytes() == b"AAAABBBBCC"
    assert path.parent == tmp_path / "cache" / "split"
    mtime = path.stat().st_mtime_ns
    assert r.resolve("split").stat().st_mtime_ns == mtime  # not joined again
    assert not list(path.parent.glob("*.tmp"))  # no temp file left behind
    path.unlink()
    assert _resolver(packs, tmp_path).resolve("split").read_bytes() == b"AAAABBBBCC"


def test_bad_part_fails_hash_and_leaves_no_file(packs: Path, tmp_path: Path) -> None:
    (packs / "fakesplit_part1" / "data" / "model.bin.part1").write_bytes(b"XXXX")
    r = _resolver(packs, tmp_path)
    with pytest.raises(ModelError, match="wrong sha256"):
        r.resolve("split")
    assert not (tmp_path / "cache" / "split" / "model.bin").exists()
    assert r.status("split").status == "corrupt"


def test_tampered_file_shows_corrupt(packs: Path, tmp_path: Path) -> None:
    r = _resolver(packs, tmp_path)
    assert r.status("voice").status == "ok"
    f = packs / "fakepack_one" / "data" / "voice.onnx"
    f.write_bytes(b"voice-byteZ")  # same size, different content
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    st = _resolver(packs, tmp_path).status("voice")
    assert st.status == "corrupt" and "sha256" in st.detail


def test_tampered_joined_file_is_rejoined(packs: Path, tmp_path: Path) -> None:
    r = _resolver(packs, tmp_path)
    path = r.resolve("split")
    path.write_bytes(b"AAAABBBBCX")
    assert _resolver(packs, tmp_path).resolve("split").read_bytes() == b"AAAABBBBCC"


def test_user_override_path(packs: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my-voice.onnx"
    mine.write_bytes(b"x")
    r = _resolver(packs, tmp_path, overrides={"voice": str(mine)})
    assert r.resolve("voice") == mine
    assert r.status("voice").status == "custom"
    r2 = _resolver(packs, tmp_path, overrides={"voice": str(tmp_path / "gone.onnx")})
    with pytest.raises(ModelError, match="does not exist"):
        r2.resolve("voice")


def test_unknown_id(packs: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model id 'nope'"):
        _resolver(packs, tmp_path).resolve("nope")


def test_pack_code_is_never_imported(packs: Path, tmp_path: Path) -> None:
    # Each fake pack's __init__ raises: resolving would fail loudly if it were imported.
    r = _resolver(packs, tmp_path)
    r.resolve("voice")
    r.resolve("split")


@pytest.mark.models
def test_installed_default_packs_are_ok(tmp_path: Path) -> None:
    r = ModelResolver(cache_dir=tmp_path / "cache")
    statuses = {s.id: s.status for s in r.statuses(verify=False)}
    expected = {"whisper_tiny_en", "whisper_base", "piper_joe_medium", "oww_melspectrogram",
                "oww_embedding", "hey_jarvis", "alexa", "hey_mycroft", "ok_nabu", "silero_vad",
                "smollm2_135m", "gemma3_270m"}
    assert expected <= set(statuses)
    assert {k: v for k, v in statuses.items() if v != "ok"} == {}
    base = r.resolve("whisper_base")
    assert {p.name for p in base.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
