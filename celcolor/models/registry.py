"""Model builders, shipped weights and checkpoint files.

One keyword-only builder per variant, collected in a registry::

    model = create_model("exemplar", pretrained=True)           # shipped weights, hash-checked
    model = create_model("exemplar", checkpoint_path="run/best.safetensors")
    list_models()                                                # names, with or without weights

A checkpoint is a ``.safetensors`` file whose metadata holds the architecture
(``config``, JSON) and the variant name, so weights rebuild their own model;
loading is strict. Shipped weights sit in ``celcolor/models/weights/`` with a
record (``<name>.json``): sha256, the training command, data, and the
benchmark figures it reached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CelcolorError, UsageError
from .records import WEIGHTS_DIR, WeightsRecord, shipped_record

__all__ = [
    "WEIGHTS_DIR",
    "WeightsRecord",
    "create_model",
    "list_models",
    "load_checkpoint",
    "register",
    "save_checkpoint",
    "sha256_of",
    "shipped_record",
]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: add a builder ``fn(**config) -> nn.Module`` under ``name``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _BUILDERS[name] = fn
        return fn

    return wrap


def list_models(pretrained: bool = False) -> list[str]:
    """Registered model names; with ``pretrained``, only those with shipped weights."""
    _load_builtin_models()
    names = sorted(_BUILDERS)
    return [n for n in names if shipped_record(n) is not None] if pretrained else names


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(model: nn.Module, path: Path, name: str, extra: dict | None = None) -> str:
    """Write ``model`` as safetensors with its variant and config; returns the sha256."""
    config = model.config.as_dict() if hasattr(model, "config") else {}
    meta = {
        "name": name,
        "config": json.dumps(config),
        **{k: str(v) for k, v in (extra or {}).items()},
    }
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return sha256_of(path)


def read_metadata(path: Path) -> dict:
    """The metadata of a safetensors checkpoint."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors' own error type: a header it cannot read
        raise CelcolorError(f"{path}: not a safetensors checkpoint ({e})") from e


def load_checkpoint(path: Path, *, sha256: str | None = None, name: str | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint (strict), checking its hash when one is given."""
    path = Path(path)
    if not path.is_file():
        raise CelcolorError(f"checkpoint not found: {path}")
    if sha256 is not None and sha256_of(path) != sha256:
        raise CelcolorError(
            f"checkpoint {path} does not match its record's sha256: the file is damaged or "
            "was replaced; reinstall celcolor or retrain with `colorize-video train`"
        )
    meta = read_metadata(path)
    variant = name or meta.get("name")
    _load_builtin_models()
    if variant not in _BUILDERS:
        raise CelcolorError(
            f"checkpoint {path} is of unknown model {variant!r}; "
            f"known: {', '.join(sorted(_BUILDERS))}"
        )
    try:
        config = json.loads(meta.get("config", "{}"))
        model = _BUILDERS[variant](**config)
        model.load_state_dict(load_file(str(path)), strict=True)
    except (ValueError, TypeError, RuntimeError) as e:  # bad config, or weights of another shape
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CelcolorError(f"checkpoint {path} does not fit a {variant} model ({first})") from e
    return model.eval()


def create_model(
    name: str, *, pretrained: bool = False, checkpoint_path: Path | None = None, **config
) -> nn.Module:
    """Build a registered model, with its shipped weights or a checkpoint's."""
    _load_builtin_models()
    if name not in _BUILDERS:
        raise CelcolorError(f"unknown model {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    if checkpoint_path is not None:
        return load_checkpoint(Path(checkpoint_path), name=name)
    if pretrained:
        record = shipped_record(name)
        if record is None:
            raise CelcolorError(
                f"no shipped weights for {name!r}: train them with "
                f"`colorize-video train {name}` and pass --checkpoint"
            )
        return load_checkpoint(WEIGHTS_DIR / record.file, sha256=record.sha256, name=name)
    return _BUILDERS[name](**config).eval()


def _load_builtin_models() -> None:
    """Import the modules whose builders register themselves."""
    from . import builders  # noqa: F401


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (AVX512-BF16 or AMX), per oneDNN."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_device(device: str) -> torch.device:
    """A user's ``--device`` (auto, cpu or cuda) as a torch device; cuda on a machine
    where torch sees no GPU is a usage error (the engine's and the trainers' check)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here; use --device cpu")
    return default_device(device)
