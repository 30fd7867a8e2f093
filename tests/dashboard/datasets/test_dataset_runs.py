"""Runs that start from a dataset instead of an upload (Classify and Compare), a lost image costing its own row
only, a dataset deleted while a run reads it, and Compare reusing a stored run of the baseline on the same images
instead of classifying them again (dashboard.runs.reuse), saying so on the page.

AppTest and the app's RunManager against fake TF Servings (tests/support.py, tests/dashboard/compare/support.py);
each test has its own run store and image store."""
from __future__ import annotations

import pytest

from client.store import RunInfo, open_store
from dashboard.runs.manager import RunManager
from dashboard.runs.reuse import reusable_run, version_now
from dashboard.targets import Target
from dashboard.ui import state
from tests.dashboard.compare.support import SWAPPED, TwoVersions
from tests.dashboard.compare.support import wait_for as wait_comparison
from tests.dashboard.datasets.support import datasets_at, lose_object, make_dataset, wait_run
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED
from tests.support import png_bytes

PETS = {"audit/cat/r.png": png_bytes(RED), "audit/dog/g.png": png_bytes(GREEN), "audit/other/b.png": png_bytes(BLUE)}


def run_from_dataset(app, name: str) -> str:
    app.radio(key="classify_upload_kind").set_value("A dataset").run()
    assert app.selectbox(key="classify_dataset").value == name
    app.button(key="classify_run").click().run()
    assert not app.exception
    value = app.query_params["run"]
    return value if isinstance(value, str) else value[0]


@pytest.mark.slow
def test_classify_runs_a_dataset_version_with_its_truth(page, fake_pets, tmp_path):
    version = make_dataset(tmp_path, "audit", PETS)
    app = page("classify", fake_pets.url).run()
    app.radio(key="classify_upload_kind").set_value("A dataset").run()
    assert "audit@1: 3 image(s), truth for 3 (created from 3 image(s))" in texts(app.caption)
    assert "ground truth from dataset audit@1: 3 classes, 3 of 3 images" in texts(app.caption)
    run_id = run_from_dataset(app, "audit")
    store = open_store(tmp_path / "runs.db")
    run = wait_run(store, run_id)
    assert (run.status, run.dataset_id, run.dataset_version, run.dataset_name, run.keep_images) == (
        "complete", version.dataset_id, 1, "audit", False)
    rows = store.run_rows(run_id)
    assert rows.index.tolist() == [0, 1, 2]
    assert rows["source"].tolist() == list(PETS)
    assert rows["ground_truth"].tolist() == ["cat", "dog", "other"]
    assert rows["top_class"].tolist() == ["cat", "dog", "other"]
    assert state.run_manager().wait_thumbnails(run_id, 30)
    app.run()
    assert "Run on dataset audit@1." in texts(app.caption)
    assert [s.run.id for s in store.list_runs(dataset_id=version.dataset_id, dataset_version=1)] == [run_id]


def test_an_image_the_store_lost_is_that_rows_error_and_the_rest_is_classified(page, fake_pets, tmp_path):
    version = make_dataset(tmp_path, "audit", PETS)
    lost = datasets_at(tmp_path).items(version)[1]
    lose_object(tmp_path, lost.sha256)
    app = page("classify", fake_pets.url).run()
    run = wait_run(open_store(tmp_path / "runs.db"), run_from_dataset(app, "audit"))
    assert (run.status, run.done, run.errors) == ("complete", 3, 1)
    rows = open_store(tmp_path / "runs.db").run_rows(run.id)
    assert rows["top_class"].tolist()[::2] == ["cat", "other"]
    assert rows.at[1, "error"] == (f"audit/dog/g.png: its image (sha256 {lost.sha256[:12]}…) is missing from the "
                                   "image store")
    assert rows.at[1, "error_type"] == "MissingImageError"


def test_a_dataset_deleted_while_a_run_reads_it_finishes_on_what_it_read(fake_pets, tmp_path):
    make_dataset(tmp_path, "audit", PETS)
    data = datasets_at(tmp_path)
    version = data.get("audit")
    sources = data.sources(version)
    first_name, first_load = sources[0]

    def read_then_delete() -> bytes:
        image = first_load()
        data.delete("audit")   # another analyst deletes the dataset while the run reads it
        return image
    store = data.store
    manager = RunManager(store, images=data.images, batch_size=1, concurrency=1)
    run_id = manager.submit_classify(fake_pets.url, "pets", [(first_name, read_then_delete), *sources[1:]],
                                     label="stable", dataset=version)
    run = wait_run(store, run_id)
    assert (run.status, run.done, run.errors, run.dataset_name) == ("complete", 3, 2, "audit")
    rows = store.run_rows(run_id)
    assert rows.at[0, "top_class"] == "cat"
    assert [error.split(":")[0] for error in rows["error"].tolist()[1:]] == ["audit/dog/g.png", "audit/other/b.png"]
    assert all("is missing from the image store" in error for error in rows["error"].tolist()[1:])
    assert data.find(version.dataset_id) is None and data.images.usage().images == 0


# -- Compare from a dataset, reusing the baseline ---------------------------------------------------------------
@pytest.fixture
def two_versions(fake_server):
    model = TwoVersions()
    return model, fake_server(model)


MIXED = {**{f"set/cat/red{i}.png": png_bytes((200 + i, 10, 10)) for i in range(3)},
         **{f"set/cat/swapped{i}.png": png_bytes((10, 200 + i, 77)) for i in range(3)},
         "set/dog/green.png": png_bytes(GREEN)}


@pytest.mark.slow
def test_compare_from_a_dataset_reuses_the_baselines_stored_run_and_says_so(page, two_versions, tmp_path):
    model, server = two_versions
    version = make_dataset(tmp_path, "mixed", MIXED)
    app = page("compare", server.url).run()   # the page's environment (SERVESCOPE_DB, SERVESCOPE_BLOBS) first
    manager = state.run_manager()
    data = datasets_at(tmp_path)
    earlier = manager.submit_classify(server.url, "pets", data.sources(version), label="stable", dataset=version,
                                      truth={})
    assert wait_run(data.store, earlier).status == "complete"
    model.predicts.clear()
    app.radio(key="compare_images_source").set_value("A dataset").run()
    assert app.selectbox(key="compare_dataset").value == "mixed"
    assert app.multiselect(key="compare_targets").value == [Target(label="stable"), Target(label="canary")]
    [note] = [t for t in texts(app.info) if t.startswith("The baseline")]
    assert note == (f"The baseline (label stable → version 1) is not classified again: run {earlier} on dataset "
                    "mixed@1 stands for it (complete, same server, model and version). Only the other targets are "
                    "run.")
    assert "ground truth from dataset mixed@1: 2 classes, 7 of 7 images" in texts(app.caption)
    app.button(key="compare_run").click().run()
    assert not app.exception
    comparison_id = app.session_state[state.COMPARISON]
    store, run_ids = wait_comparison(str(tmp_path / "runs.db"), comparison_id)
    assert run_ids[0] == earlier
    canary = store.get_run(run_ids[1])
    assert (canary.target, canary.status, canary.dataset_version, canary.dataset_name, canary.total) == (
        "label:canary", "complete", 1, "mixed", 7)
    assert {v for v, _ in model.predicts} == {2}   # version 1 was not asked again
    assert sum(n for v, n in model.predicts) == 7 + 1   # the canary's images, and its untimed warm-up
    app.run()
    assert not app.exception
    rows = store.run_rows(canary.id)
    assert rows["top_class"].tolist() == ["cat"] * 6 + ["dog"]   # v2 swaps cat and dog for the SWAPPED colour
    assert store.run_rows(earlier)["top_class"].tolist() == ["cat"] * 3 + ["dog"] * 3 + ["dog"]


@pytest.mark.slow
def test_a_moved_label_is_not_reused(page, two_versions, tmp_path):
    model, server = two_versions
    version = make_dataset(tmp_path, "mixed", MIXED)
    app = page("compare", server.url).run()
    data = datasets_at(tmp_path)
    earlier = state.run_manager().submit_classify(server.url, "pets", data.sources(version), label="stable",
                                                  dataset=version)
    wait_run(data.store, earlier)
    app.radio(key="compare_images_source").set_value("A dataset").run()
    assert [t for t in texts(app.info) if t.startswith("The baseline")]   # as the page's cached overview says
    model.labels = {"stable": 2, "canary": 1}   # the labels swapped since: asked afresh at the press
    app.button(key="compare_run").click().run()
    assert not app.exception
    assert texts(app.warning)[-1] == (f"Run {earlier} is not reused: label stable no longer names version 1, so the "
                                      "baseline is run again.")
    store, run_ids = wait_comparison(str(tmp_path / "runs.db"), app.session_state[state.COMPARISON])
    assert earlier not in run_ids and len(run_ids) == 2


@pytest.mark.slow
def test_compare_with_from_a_run_whose_uploads_are_gone_uses_its_kept_images_and_reuses_it(page, two_versions,
                                                                                           tmp_path):
    _, server = two_versions
    app = page("compare", server.url).run()
    manager = state.run_manager()
    images = {f"up/{i}.png": png_bytes(SWAPPED) for i in range(3)}
    run_id = manager.submit_classify(server.url, "pets", [(n, (lambda d=d: d)) for n, d in images.items()],
                                     label="stable")
    store = open_store(tmp_path / "runs.db")
    wait_run(store, run_id)
    assert manager.keeper.wait(run_id, 30)
    manager.release(run_id, "as after a restart")
    app.session_state[state.COMPARE_REQUEST] = run_id
    app.run()
    [note] = [t for t in texts(app.info) if t.startswith("The baseline")]
    assert note.startswith(f"The baseline (label stable → version 1) is not classified again: run {run_id} on these "
                           "images stands for it")
    app.button(key="compare_run").click().run()
    assert not app.exception
    store, run_ids = wait_comparison(str(tmp_path / "runs.db"), app.session_state[state.COMPARISON])
    assert run_ids[0] == run_id
    assert store.run_rows(run_ids[1])["source"].tolist() == list(images)
    assert store.run_rows(run_ids[1])["top_class"].tolist() == ["cat"] * 3


# -- which run can stand for a target (pure) --------------------------------------------------------------------
def stored(**changes) -> RunInfo:
    from datetime import datetime, timezone
    values = dict(id="r1", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), finished_at=None, kind="classify",
                  session_id=None, url="http://s", model="pets", target="label:stable", version=1, labels_at_start={},
                  labels_at_end={}, signature_digest=None, status="complete", total=5, done=5, errors=0,
                  elapsed_s=1.0, error=None, class_names=("cat",), truth_summary=None, owner=None, thumbnails=True)
    return RunInfo(**{**values, **changes})


@pytest.mark.parametrize("changes", [{"url": "http://other"}, {"model": "dogs"}, {"target": "label:canary"},
                                     {"status": "cancelled"}, {"done": 4}, {"total": 6, "done": 6}, {"version": 2}])
def test_a_run_differing_in_anything_that_matters_is_not_reused(changes):
    found = reusable_run([stored(**changes)], url="http://s", model="pets", target=Target(label="stable"),
                         answered_now=1, total=5)
    assert found is None
    assert reusable_run([stored(**changes), stored(id="r2")], url="http://s", model="pets",
                        target=Target(label="stable"), answered_now=1, total=5).id == "r2"


def test_what_a_target_names_now():
    labels, available = {"stable": 1, "canary": 2}, [1, 2, 3]
    assert version_now(Target(label="canary"), labels, available) == 2
    assert version_now(Target(label="gone"), labels, available) is None
    assert version_now(Target(version=3), labels, available) == 3
    assert version_now(Target(version=9), labels, available) is None
    assert version_now(Target(), labels, available) == 3
    assert version_now(Target(), labels, []) is None
    assert reusable_run([stored()], url="http://s", model="pets", target=Target(label="stable"), answered_now=None,
                        total=5) is None
