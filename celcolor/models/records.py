"""Records of shipped weights, readable without torch (the engine's defaults consult them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass
class WeightsRecord:
    """What a shipped checkpoint is and where it came from."""

    name: str
    file: str
    sha256: str
    command: str
    data: str
    seconds: float
    metrics: dict = field(default_factory=dict)
    notes: str = ""
    # (w, h) of the training frames: the engine sizes the network's input from it.
    train_size: list[int] | None = None

    @classmethod
    def read(cls, path: Path) -> WeightsRecord:
        """Load a record from its JSON file."""
        return cls(**json.loads(Path(path).read_text()))

    def write(self, path: Path) -> None:
        """Save the record as JSON."""
        Path(path).write_text(json.dumps(self.__dict__, indent=2) + "\n")


def shipped_record(name: str) -> WeightsRecord | None:
    """The record of a model's shipped weights, or None when it has none."""
    path = WEIGHTS_DIR / f"{name}.json"
    return WeightsRecord.read(path) if path.is_file() else None
