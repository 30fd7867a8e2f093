"""Issue 19's acceptance on the dashboard's side: models exported the ways real teams export them
(tests/conventions.py), served together by `python -m serving`, classified by the dashboard's RunManager with the
operator's SERVESCOPE_PROFILES folder, equal the same SavedModel called in-process on photos prepared by the
convention's own library, within 1e-3, and every run stores the profile it used. Without a profile, the page says
so: a model that names no classes is refused with the reason, and one given class names only is classified with
the preparation assumed, which the results state."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from client import ModelProfile
from client.store.database import open_store
from dashboard.runs.manager import RunManager
from dashboard.server.connection import open_client
from dashboard.server.profiles import ProfileChooser, ProfileFolder
from tests.convention_fixtures import NAMES, TOLERANCE, photos, references, server_url  # noqa: F401
from tests.dashboard.profiles.fakes import finished_run
from tests.dashboard.readable import texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from tests import conventions  # TensorFlow and Keras: only when these tests run
    base = tmp_path_factory.mktemp("conventions")
    conventions.build_served(base)
    return base, base / "profiles"


def items(photos: list[Path]) -> list[tuple[str, object]]:
    return [(str(photo), (lambda photo=photo: photo.read_bytes())) for photo in photos]


@pytest.mark.parametrize("name", NAMES)
def test_the_dashboards_run_equals_the_in_process_reference(built, server_url, references, photos, name, tmp_path):
    _, folder = built
    store = open_store(tmp_path / "runs.db")
    manager = RunManager(store, client_factory=open_client, batch_size=4)
    run_id = manager.submit_classify(server_url, name, items(photos), thumbnails=False,
                                     profiles=ProfileChooser(name, ProfileFolder(folder)))
    assert manager.wait(run_id, 300)
    run = store.get_run(run_id)
    assert (run.status, run.errors, run.done) == ("complete", 0, len(photos)), run.error
    profile = ModelProfile.from_file(folder / f"{name}.json")
    assert (run.profile.digest, run.profile.origin, run.profile.assumed) == (
        profile.digest, f"SERVESCOPE_PROFILES/{name}.json", False)
    assert run.class_names == profile.class_names
    rows = store.run_rows(run_id).set_index("source")
    got = np.array([[rows.at[str(photo), f"prob_{c}"] for c in profile.class_names] for photo in photos])
    np.testing.assert_allclose(got, references[name], rtol=0, atol=TOLERANCE)
    assert np.array_equal(got.argmax(axis=1), references[name].argmax(axis=1))
    assert set(rows["profile"]) == {profile.digest}


def test_without_a_profile_the_page_says_what_is_missing(page, built, server_url, photos, tmp_path):
    uploads = [(photo.name, photo.read_bytes(), "image/jpeg") for photo in photos[:3]]
    app = page("classify", server_url, model="caffe").run()
    app.file_uploader[0].set_value(uploads)
    app.run()
    app.button(key="classify_run").click().run()
    store, run_id = finished_run(app, tmp_path, timeout=120)
    failed = store.get_run(run_id)
    assert failed.status == "failed" and "names the classes" in failed.error
    assert any(t.startswith(f"Run {run_id}: failed with 0 of 3 done") and "give the class names" in t
               for t in texts(app.error))
    # Class names only (no preset, no input settings): classified on the default preparation, and the page says so.
    names = ModelProfile.from_file(built[1] / "caffe.json").class_names
    app.switch_page("app_pages/models.py").run()
    app.radio(key="models_profile_mode").set_value("JSON").run()
    app.text_area(key="models_profile_json_caffe").set_value(json.dumps({"class_names": list(names)})).run()
    app.button(key="models_profile_json_apply_caffe").click().run()
    assert not app.exception and texts(app.error) == []
    app.switch_page("app_pages/classify.py").run()
    app.file_uploader[0].set_value(uploads)
    app.run()
    app.button(key="classify_run").click().run()
    _, assumed_id = finished_run(app, tmp_path, timeout=120)
    run = store.get_run(assumed_id)
    assert (run.status, run.profile.assumed, run.profile.origin) == ("complete", True, "this session (profile editor)")
    assert [w for w in texts(app.warning) if w.startswith("Preparation assumed: centre crop size/(size+32) = 96/128 "
                                                          "of the shorter side, resized to 96×96 (tf_bilinear)")]
