"""The trained cat/dog/other head: a linear softmax layer over the 1280-d pooled features, one per version."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pets import CLASS_NAMES, FEATURE_DIM, HEADS_DIR


@dataclass
class Head:
    weights: np.ndarray  # (1280, 3)
    bias: np.ndarray  # (3,)
    size: int
    metadata: dict = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias


def head_path(version: int, heads_dir: Path = HEADS_DIR) -> Path:
    return Path(heads_dir) / f"pets_v{version}.npz"


def save_head(head: Head, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:  # a file object keeps np.savez from appending ".npz"
        np.savez(
            file,
            W=head.weights.astype(np.float32),
            b=head.bias.astype(np.float32),
            size=np.int32(head.size),
            classes=np.array(CLASS_NAMES),
            metadata=np.array(json.dumps(head.metadata, sort_keys=True)),
        )


def load_head(path: Path) -> Head:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: head weights missing; run `python -m pets.train` to create them")
    with np.load(path, allow_pickle=False) as data:
        classes = tuple(str(name) for name in data["classes"])
        if classes != CLASS_NAMES:
            raise ValueError(f"{path}: classes {classes} != {CLASS_NAMES}")
        head = Head(data["W"], data["b"], int(data["size"]), json.loads(str(data["metadata"])))
    if head.weights.shape != (FEATURE_DIM, len(CLASS_NAMES)) or head.bias.shape != (len(CLASS_NAMES),):
        raise ValueError(f"{path}: W {head.weights.shape} / b {head.bias.shape} have the wrong shape")
    return head
