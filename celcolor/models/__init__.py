"""Networks (exemplar, temporal, discriminator), weight records and loading."""

from .registry import (
    WeightsRecord,
    create_model,
    list_models,
    load_checkpoint,
    save_checkpoint,
    shipped_record,
)

__all__ = [
    "WeightsRecord",
    "create_model",
    "list_models",
    "load_checkpoint",
    "save_checkpoint",
    "shipped_record",
]
