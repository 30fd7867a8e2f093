"""The 1000 ImageNet-1k class names, index order of the classifier (`imagenet_labels.txt`).

Origin: the WordNet synonym lists of the ILSVRC-2012 classes, as published in the `labels_map.txt` of
lukemelas/EfficientNet-PyTorch (examples/simple), one class per line here. Shipped because
`keras.applications.imagenet_utils.decode_predictions` downloads its index at run time.
"""
from __future__ import annotations

from functools import lru_cache

from pets import PETS_DIR

LABELS_FILE = PETS_DIR / "imagenet_labels.txt"


@lru_cache(maxsize=1)
def imagenet_synonyms() -> tuple[str, ...]:
    lines = LABELS_FILE.read_text(encoding="utf-8").splitlines()
    if len(lines) != 1000:
        raise ValueError(f"{LABELS_FILE}: expected 1000 labels, found {len(lines)}")
    return tuple(lines)


def imagenet_short_labels() -> tuple[str, ...]:
    """First synonym of each class ("tabby", "Egyptian cat"): what the model outputs as labels."""
    return tuple(line.split(",")[0].strip() for line in imagenet_synonyms())
