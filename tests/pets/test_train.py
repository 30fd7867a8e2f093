"""The head trainer's pieces on small synthetic data: manifest errors, the softmax fit, the held-out split."""
from __future__ import annotations

import numpy as np
import pytest

from pets import CLASS_NAMES
from pets.train import fit_softmax, per_class_accuracy, read_manifest, validation_split


def test_manifest_rows_become_paths_and_class_indices(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,label,source\ncat/a.jpg,cat,x\nother/b.png,other,y\n")
    dataset = read_manifest(tmp_path)
    assert dataset.paths == [tmp_path / "cat" / "a.jpg", tmp_path / "other" / "b.png"]
    assert dataset.labels.tolist() == [0, 2]


def test_unknown_label_names_manifest_line(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,label\ncat/a.jpg,cat\nx/b.jpg,hamster\n")
    with pytest.raises(ValueError, match=r"manifest\.csv:3: label 'hamster'"):
        read_manifest(tmp_path)


def test_manifest_without_label_column_names_the_file(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,class\ncat/a.jpg,cat\n")
    with pytest.raises(ValueError, match=r"manifest\.csv: header lacks column\(s\) \['file', 'label'\]"):
        read_manifest(tmp_path)


def test_missing_manifest_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "manifest.csv")):
        read_manifest(tmp_path)


def _blobs(seed: int, per_class=(50, 50, 30), dim=16):
    """Three Gaussian clusters (unbalanced like the real 500/500/300 set), well apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(len(CLASS_NAMES), dim))
    labels = np.repeat(np.arange(len(CLASS_NAMES)), per_class)
    return (centres[labels] + rng.normal(0, 1, size=(len(labels), dim))).astype(np.float32), labels


def test_fit_softmax_separates_held_out_clusters_and_repeats_exactly():
    features, labels = _blobs(1)
    weights, bias = fit_softmax(features, labels, steps=200)
    assert weights.shape == (16, 3) and bias.shape == (3,)
    held_out_features, held_out_labels = _blobs(1, per_class=(20, 20, 20))
    assert per_class_accuracy(weights, bias, held_out_features, held_out_labels) == {
        "cat": 1.0, "dog": 1.0, "other": 1.0}
    again = fit_softmax(features, labels, steps=200)
    np.testing.assert_array_equal(weights, again[0])
    np.testing.assert_array_equal(bias, again[1])


def test_untrained_head_is_at_chance():
    """Zero steps leave the zero init: every photo gets class 0, so only cats are 'right'."""
    features, labels = _blobs(2)
    weights, bias = fit_softmax(features, labels, steps=0)
    assert per_class_accuracy(weights, bias, features, labels) == {"cat": 1.0, "dog": 0.0, "other": 0.0}


def test_validation_split_is_stratified_and_seeded():
    labels = np.repeat([0, 1, 2], [500, 500, 300])
    mask = validation_split(labels)
    assert [int(mask[labels == k].sum()) for k in range(3)] == [100, 100, 60]
    np.testing.assert_array_equal(mask, validation_split(labels))
    assert not np.array_equal(mask, validation_split(labels, seed=1))
