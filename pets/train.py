"""`python -m pets.train`: fit the cat/dog/other softmax head of each version on /work/shared/train.

Features come from the frozen ImageNet backbone at each version's input size; the head is multinomial
logistic regression (full-batch Adam, L2, class-balanced loss) in numpy, so runs are bit-for-bit repeatable.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from pets import CLASS_NAMES, HEADS_DIR, PETS_DIR, VERSION_SIZES  # noqa: E402
from pets.head import Head, head_path, save_head  # noqa: E402

DEFAULT_TRAIN_DIR = PETS_DIR.parent.parent / "shared" / "train"
SEED = 20240611
STEPS = 600
LEARNING_RATE = 0.01
L2 = 1e-3
VALIDATION_FRACTION = 0.2


@dataclass
class Dataset:
    paths: list[Path]
    labels: np.ndarray  # class indices into CLASS_NAMES


def read_manifest(train_dir: Path) -> Dataset:
    manifest = Path(train_dir) / "manifest.csv"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} not found: the training photos are needed to train the head")
    paths, labels = [], []
    with open(manifest, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        missing = {"file", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{manifest}: header lacks column(s) {sorted(missing)}; expected file,label,...")
        for line, row in enumerate(reader, start=2):
            if row["label"] not in CLASS_NAMES:
                raise ValueError(f"{manifest}:{line}: label {row['label']!r} not in {CLASS_NAMES}")
            paths.append(Path(train_dir) / row["file"])
            labels.append(CLASS_NAMES.index(row["label"]))
    return Dataset(paths, np.array(labels, dtype=np.int64))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_softmax(features: np.ndarray, labels: np.ndarray, steps: int = STEPS, learning_rate: float = LEARNING_RATE,
                l2: float = L2) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression; zero init + full batch = deterministic."""
    features = features.astype(np.float64)
    num_classes = len(CLASS_NAMES)
    onehot = np.eye(num_classes)[labels]
    counts = np.bincount(labels, minlength=num_classes)
    # Each class contributes equally: "other" (300) weighs as much as cats (500) or dogs (500).
    sample_weight = (len(labels) / (num_classes * counts))[labels] / len(labels)
    weights = np.zeros((features.shape[1], num_classes))
    bias = np.zeros(num_classes)
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    velocities = [np.zeros_like(weights), np.zeros_like(bias)]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        error = (_softmax(features @ weights + bias) - onehot) * sample_weight[:, None]
        grads = [features.T @ error + l2 * weights, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((weights, bias), grads)):
            moments[i] = beta1 * moments[i] + (1 - beta1) * grad
            velocities[i] = beta2 * velocities[i] + (1 - beta2) * grad ** 2
            m_hat = moments[i] / (1 - beta1 ** step)
            v_hat = velocities[i] / (1 - beta2 ** step)
            param -= learning_rate * m_hat / (np.sqrt(v_hat) + eps)
    return weights.astype(np.float32), bias.astype(np.float32)


def per_class_accuracy(head_w: np.ndarray, head_b: np.ndarray, features: np.ndarray, labels: np.ndarray) -> dict:
    predicted = (features @ head_w + head_b).argmax(axis=1)
    return {name: round(float((predicted[labels == i] == i).mean()), 4)
            for i, name in enumerate(CLASS_NAMES) if (labels == i).any()}


def validation_split(labels: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Boolean mask of a stratified held-out fraction, fixed by the seed."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held_out = rng.choice(members, size=int(round(len(members) * VALIDATION_FRACTION)), replace=False)
        mask[held_out] = True
    return mask


def train_version(version: int, dataset: Dataset, backbone_state: dict) -> Head:
    from pets.efficientnet_lite import build_backbone, load_torch_weights
    from pets.features import FeatureExtractor

    size = VERSION_SIZES[version]
    backbone = build_backbone(size)
    load_torch_weights(backbone, backbone_state)
    started = time.perf_counter()
    features = FeatureExtractor(backbone, size).files(dataset.paths)
    extract_seconds = time.perf_counter() - started
    held_out = validation_split(dataset.labels)
    val_w, val_b = fit_softmax(features[~held_out], dataset.labels[~held_out])
    validation = per_class_accuracy(val_w, val_b, features[held_out], dataset.labels[held_out])
    weights, bias = fit_softmax(features, dataset.labels)
    metadata = {
        "version": version,
        "input_size": size,
        "classes": list(CLASS_NAMES),
        "train_counts": {name: int((dataset.labels == i).sum()) for i, name in enumerate(CLASS_NAMES)},
        "train_files_sha1": hashlib.sha1("\n".join(p.name for p in dataset.paths).encode()).hexdigest(),
        "optimizer": f"full-batch Adam lr={LEARNING_RATE} steps={STEPS} l2={L2}, class-balanced",
        "seed": SEED,
        "validation_fraction": VALIDATION_FRACTION,
        "validation_accuracy_per_class": validation,
        "train_accuracy_per_class": per_class_accuracy(weights, bias, features, dataset.labels),
    }
    print(f"version {version} ({size} px): features in {extract_seconds:.1f} s, "
          f"held-out accuracy {validation}", flush=True)
    return Head(weights, bias, size, metadata)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, default=DEFAULT_TRAIN_DIR)
    parser.add_argument("--output", type=Path, default=HEADS_DIR, help="directory for pets_v<version>.npz")
    parser.add_argument("--versions", type=int, nargs="+", default=sorted(VERSION_SIZES))
    args = parser.parse_args(argv)

    import keras

    from pets.efficientnet_lite import default_weights_path
    from pets.torch_legacy import load_state_dict

    keras.utils.set_random_seed(SEED)
    started = time.perf_counter()
    dataset = read_manifest(args.train_dir)
    state = load_state_dict(default_weights_path())
    for version in args.versions:
        head = train_version(version, dataset, state)
        save_head(head, head_path(version, args.output))
        print(f"wrote {head_path(version, args.output)}")
    print(f"trained in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
