"""Backend functions against the real embedded server with real photos (what the pages call)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from client import ModelNotFoundError, ServerUnavailableError, VersionNotAvailableError
from client.sources import Skipped, expand_uploads
from dashboard.classify import run_classification
from dashboard.models import fetch_model_overview
from dashboard.targets import Target
from tests.dashboard.conftest import CORRUPT_JPEG, as_upload, zip_bytes

pytestmark = pytest.mark.slow


def test_overview_lists_versions_labels_and_signatures(pets_server_url):
    overview = fetch_model_overview(pets_server_url, "pets", ("stable", "canary", "nosuchlabel"))
    assert overview.versions.to_dict("records") == [
        {"version": 1, "state": "AVAILABLE", "labels": "stable", "error": ""},
        {"version": 2, "state": "AVAILABLE", "labels": "canary", "error": ""},
    ]
    assert overview.labels == {"stable": 1, "canary": 2}
    assert overview.available_versions == [1, 2]
    sigs = overview.signatures.set_index(["version", "signature", "role", "tensor"])
    assert sigs.loc[(1, "serving_default", "input", "image_bytes"), ["method", "dtype", "shape"]].tolist() == [
        "tensorflow/serving/predict", "DT_STRING", "[-1]"]
    assert sigs.loc[(1, "predict_images", "input", "images"), "shape"] == "[-1, 128, 128, 3]"
    assert sigs.loc[(2, "predict_images", "input", "images"), "shape"] == "[-1, 224, 224, 3]"
    assert sigs.loc[(2, "serving_default", "output", "probabilities"), ["dtype", "shape"]].tolist() == [
        "DT_FLOAT", "[-1, 3]"]
    assert sigs.loc[(2, "serving_default", "output", "classes"), "dtype"] == "DT_STRING"


def test_overview_errors_are_the_clients_typed_errors(pets_server_url, unreachable_url):
    with pytest.raises(ModelNotFoundError):
        fetch_model_overview(pets_server_url, "nosuchmodel")
    with pytest.raises(ServerUnavailableError):
        fetch_model_overview(unreachable_url, "pets")


def test_classify_photos_zip_and_a_corrupt_file(pets_server_url, few_photos):
    photos = [as_upload(path) for path, _ in few_photos]
    archive = zip_bytes({**{"inner/" + name: data for name, data in photos[:2]}, "inner/.DS_Store": b"x"})
    uploads = [*photos, ("broken.jpg", CORRUPT_JPEG), ("two.zip", archive)]
    progress, skipped = [], []
    items = list(expand_uploads(uploads, skipped=skipped))
    run = run_classification(pets_server_url, "pets", items, Target(label="canary"), skipped=skipped,
                             on_progress=lambda done, total: progress.append((done, total)))
    assert run.skipped == (Skipped("two.zip/inner/.DS_Store", "hidden file"),)

    expected_sources = [name for name, _ in photos] + ["broken.jpg"] + [f"two.zip/inner/{n}" for n, _ in photos[:2]]
    assert run.rows["source"].tolist() == expected_sources
    assert progress[-1] == (9, 9) and [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert run.outcome() == "Classified 8 of 9 image(s): 1 failed — not a usable image"
    assert set(run.rows["target"]) == {"label:canary"} and set(run.rows["model"]) == {"pets"}
    assert run.class_names == ("cat", "dog", "other")
    assert (run.n_images, run.n_errors, run.versions) == (9, 1, [2])

    broken = run.rows.iloc[6]
    assert broken["error"] == "broken.jpg: corrupt or truncated image: Truncated File Read"
    assert pd.isna(broken["top_class"]) and pd.isna(broken["prob_cat"])
    good = run.rows.drop(index=6)
    for _, row in good.iterrows():
        probabilities = [row["prob_cat"], row["prob_dog"], row["prob_other"]]
        assert math.isclose(sum(probabilities), 1.0, abs_tol=1e-4)
        assert row["top_class"] == ("cat", "dog", "other")[probabilities.index(max(probabilities))]
        assert row["confidence"] == max(probabilities)
        assert row["version"] == 2 and row["latency_ms"] > 0
        assert row["thumbnail"].startswith("data:image/jpeg;base64,")
    # The zipped copies are the same images, so they get the same answer as the loose files.
    assert good["prob_cat"].iloc[6:].tolist() == pytest.approx(good["prob_cat"].iloc[:2].tolist(), abs=1e-5)
    # The model's ImageNet view travels along for the detail chart.
    assert len(run.top5(0)) == 5 and all(isinstance(label, str) for label, _ in run.top5(0))
    assert sum(run.class_counts().values()) == 9 and run.class_counts()["error"] == 1


def test_classify_by_version_and_unknown_label(pets_server_url, few_photos):
    items = list(expand_uploads([as_upload(few_photos[0][0])]))
    run = run_classification(pets_server_url, "pets", items, Target(version=1))
    assert run.versions == [1] and run.n_errors == 0
    with pytest.raises(VersionNotAvailableError):
        run_classification(pets_server_url, "pets", items, Target(label="nosuchlabel"))
