"""Backend functions against the real embedded server with real photos (what the pages call): the model overview,
and a Classify run through dashboard.runs.manager.RunManager into a temporary run store, as the Classify page starts it."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from client import ModelNotFoundError, ServerUnavailableError
from client.sources import Skipped, expand_uploads
from dashboard.runs.manager import RunManager
from dashboard.server.connection import TOP5_LABELS, TOP5_SCORES, open_client
from dashboard.server.overview import fetch_model_overview
from client.store.database import open_store
from tests.dashboard.conftest import CORRUPT_JPEG, as_upload
from tests.dashboard.runs.test_runner import FINAL
from tests.support import wait_until, zip_bytes

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


@pytest.fixture
def manager(tmp_path):
    store = open_store(tmp_path / "runs.db")
    # The app's own client factory (dashboard.ui.state): the predict timeout, retries and the operator's signature.
    manager = RunManager(store, client_factory=open_client, batch_size=4)
    yield manager
    manager.shutdown()
    store.close()


def finished(manager: RunManager, run_id: str):
    wait_until(lambda: manager.progress(run_id).status in FINAL and not manager.is_active(run_id), timeout=300,
               what=f"run {run_id} to finish")
    assert manager.wait_thumbnails(run_id, 60), f"the thumbnails of run {run_id}"   # stored after the rows
    return manager.store.get_run(run_id)


def test_classify_photos_zip_and_a_corrupt_file(manager, pets_server_url, few_photos):
    photos = [as_upload(path) for path, _ in few_photos]
    archive = zip_bytes({**{"inner/" + name: data for name, data in photos[:2]}, "inner/.DS_Store": b"x"})
    skipped = []
    items = list(expand_uploads([*photos, ("broken.jpg", CORRUPT_JPEG), ("two.zip", archive)], skipped=skipped))
    assert skipped == [Skipped("two.zip/inner/.DS_Store", "hidden file")]
    run = finished(manager, manager.submit_classify(pets_server_url, "pets", items, label="canary",
                                                    probe_labels=("stable", "canary")))
    assert (run.status, run.total, run.done, run.errors, run.error) == ("complete", 9, 9, 1, None)
    assert (run.version, run.target, run.class_names) == (2, "label:canary", ("cat", "dog", "other"))
    assert (dict(run.labels_at_start), dict(run.labels_at_end)) == ({"stable": 1, "canary": 2},) * 2
    assert run.outcome() == "complete: 8 of 9 image(s) classified, 1 failed"

    rows = manager.store.run_rows(run.id)
    assert rows["source"].tolist() == ([name for name, _ in photos] + ["broken.jpg"]
                                       + [f"two.zip/inner/{n}" for n, _ in photos[:2]])
    assert set(rows["target"]) == {"label:canary"} and set(rows["model"]) == {"pets"}
    broken = rows.loc[6]
    assert broken["error"] == "broken.jpg: corrupt or truncated image: Truncated File Read"
    assert broken["error_type"] == "ImageError" and pd.isna(broken["top_class"]) and pd.isna(broken["prob_cat"])
    good = rows.drop(index=6)
    for _, row in good.iterrows():
        probabilities = [row["prob_cat"], row["prob_dog"], row["prob_other"]]
        assert math.isclose(sum(probabilities), 1.0, abs_tol=1e-4)
        assert row["top_class"] == ("cat", "dog", "other")[probabilities.index(max(probabilities))]
        assert row["confidence"] == max(probabilities)
        assert row["version"] == 2 and row["latency_ms"] > 0
    # The zipped copies are the same images, so they get the same answer as the loose files.
    assert good["prob_cat"].iloc[6:].tolist() == pytest.approx(good["prob_cat"].iloc[:2].tolist(), abs=1e-5)
    # Every readable image has its thumbnail and the model's ImageNet view (for the detail chart); the corrupt
    # file has neither.
    assert sorted(manager.store.run_thumbnails(run.id)) == sorted(good.index)
    extras = manager.store.run_extras(run.id)
    assert sorted(extras) == sorted(good.index)
    assert len(extras[0][TOP5_LABELS]) == len(extras[0][TOP5_SCORES]) == 5
    assert all(isinstance(label, str) for label in extras[0][TOP5_LABELS])


def test_classify_by_version_and_an_unknown_label(manager, pets_server_url, few_photos):
    items = list(expand_uploads([as_upload(few_photos[0][0])]))
    by_version = finished(manager, manager.submit_classify(pets_server_url, "pets", items, version=1))
    assert (by_version.status, by_version.version, by_version.errors) == ("complete", 1, 0)
    assert manager.store.run_rows(by_version.id)["version"].tolist() == [1]
    unknown = finished(manager, manager.submit_classify(pets_server_url, "pets", items, label="nosuchlabel"))
    assert (unknown.status, unknown.done) == ("failed", 0)
    assert unknown.error.startswith("VersionNotAvailableError: ")
