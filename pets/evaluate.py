"""`python -m pets.evaluate [MODEL_DIR]`: accuracy of built pets versions on the labelled test photos.

Reads /work/shared/images/manifest.csv (file,label,...) and runs each SavedModel's `serving_default`.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pets import CLASS_NAMES, PETS_DIR, VERSION_SIZES  # noqa: E402

DEFAULT_IMAGES_DIR = PETS_DIR.parent.parent / "shared" / "images"


@dataclass
class Accuracy:
    per_class: dict[str, float]
    cat_dog: float  # share of cat+dog photos given their own label
    counts: dict[str, int]
    mistakes: list[tuple[str, str, str]]  # (file, label, predicted)


def labelled_photos(images_dir: Path) -> list[tuple[Path, str]]:
    manifest = Path(images_dir) / "manifest.csv"
    with open(manifest, newline="", encoding="utf-8") as file:
        return [(Path(images_dir) / row["file"], row["label"]) for row in csv.DictReader(file)]


def predict_files(saved_model_dir: Path, paths: list[Path], batch_size: int = 16) -> list[str]:
    import tensorflow as tf

    serve = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    predicted = []
    for start in range(0, len(paths), batch_size):
        blobs = [p.read_bytes() for p in paths[start:start + batch_size]]
        probabilities = serve(image_bytes=tf.constant(blobs))["probabilities"].numpy()
        predicted.extend(CLASS_NAMES[i] for i in probabilities.argmax(axis=1))
    return predicted


def accuracy(saved_model_dir: Path, images_dir: Path = DEFAULT_IMAGES_DIR) -> Accuracy:
    photos = labelled_photos(images_dir)
    predicted = predict_files(saved_model_dir, [path for path, _ in photos])
    per_class, counts = {}, {}
    for name in CLASS_NAMES:
        hits = [guess == label for (_, label), guess in zip(photos, predicted) if label == name]
        counts[name] = len(hits)
        per_class[name] = sum(hits) / len(hits) if hits else float("nan")
    pets = [guess == label for (_, label), guess in zip(photos, predicted) if label in ("cat", "dog")]
    mistakes = [(str(path.relative_to(images_dir)), label, guess)
                for (path, label), guess in zip(photos, predicted) if guess != label]
    return Accuracy(per_class, sum(pets) / len(pets), counts, mistakes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, nargs="?", default=PETS_DIR)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES_DIR)
    args = parser.parse_args(argv)
    for version in VERSION_SIZES:
        result = accuracy(args.model_dir / str(version), args.images)
        shares = ", ".join(f"{name} {value:.1%} of {result.counts[name]}" for name, value in result.per_class.items())
        print(f"version {version}: cat-vs-dog {result.cat_dog:.1%}; {shares}")
        for file, label, guess in result.mistakes:
            print(f"  {file}: {label} -> {guess}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
