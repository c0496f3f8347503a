"""Networks (exemplar, temporal, discriminator), weight records and loading.

Names load lazily: reading a weights record (``shipped_record``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WeightsRecord": "records",
    "shipped_record": "records",
    "create_model": "registry",
    "list_models": "registry",
    "load_checkpoint": "registry",
    "save_checkpoint": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
