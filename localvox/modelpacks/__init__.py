"""Offline model packs: find model files shipped inside PyPI packages, by path, never from a hub."""

from localvox.modelpacks.manifest import ModelFile, ModelSource, ModelSpec, load_manifest
from localvox.modelpacks.resolver import ModelResolver, ModelStatus, resolve_model

__all__ = [
    "ModelFile", "ModelSource", "ModelSpec", "load_manifest",
    "ModelResolver", "ModelStatus", "resolve_model",
]
