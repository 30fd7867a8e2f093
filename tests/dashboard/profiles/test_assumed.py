"""A pixel model with no profile is classified with the default preparation, and the results say so, never silently
(issue 19, part 2): Classify (a batch and a single image), Compare (before the run and in the verdict). A model
with a profile, or one that takes encoded images, gets no such note."""
from __future__ import annotations

import pytest

from client import ModelProfile
from client.profile import DEFAULT_PROFILE
from tests.dashboard.profiles.fakes import SIZE, classes_model, finished_run, write_profile
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import png_upload

PREPARATION = DEFAULT_PROFILE.describe("DT_FLOAT", (-1, SIZE, SIZE, 3))
NOTE = (f"Preparation assumed: {PREPARATION}; set a profile: on the Models page for this session, or as mine.json in "
        "the operator's SERVESCOPE_PROFILES folder.")


@pytest.fixture
def pixels(fake_server):
    return fake_server(classes_model())


def classify(page, url, tmp_path, uploads, **environment):
    app = page("classify", url, model="mine", **environment).run()
    app.file_uploader[0].set_value(uploads)
    app.run()
    app.button(key="classify_run").click().run()
    assert not app.exception
    store, run_id = finished_run(app, tmp_path)
    assert not app.exception
    return app, store.get_run(run_id)


def test_the_preparation_line_is_the_default_one():
    assert PREPARATION == ("centre crop size/(size+32) = 8/40 of the shorter side, resized to 8×8 (tf_bilinear); RGB; "
                           "scale [-0.9922, 1]; NHWC, DT_FLOAT sent (values -0.9922 to 1)")


@pytest.mark.parametrize("count", [1, 3])
def test_classify_says_the_preparation_was_assumed(page, pixels, tmp_path, count):
    uploads = [png_upload(f"{i}.png", (40 * i, 90, 200)) for i in range(count)]
    app, run = classify(page, pixels.url, tmp_path, uploads)
    assert run.status == "complete" and run.errors == 0
    assert (run.profile.assumed, run.profile.digest, run.profile.origin, run.profile.preparation) == (
        True, DEFAULT_PROFILE.digest, "no profile (the default)", PREPARATION)
    assert NOTE in texts(app.warning)


def test_with_a_profile_nothing_is_assumed(page, pixels, tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    write_profile(folder, "mine.json", {"preset": "unit"})
    app, run = classify(page, pixels.url, tmp_path, [png_upload("a.png", (10, 90, 200))],
                        SERVESCOPE_PROFILES=str(folder))
    assert (run.profile.assumed, run.profile.digest) == (False, ModelProfile.preset("unit").digest)
    assert [w for w in texts(app.warning) if "assumed" in w] == []


def test_an_encoded_image_model_is_not_assumed(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    app.file_uploader[0].set_value([png_upload("a.png", (200, 10, 10))])
    app.run()
    app.button(key="classify_run").click().run()
    store, run_id = finished_run(app, tmp_path)
    run = store.get_run(run_id)
    assert (run.profile.assumed, run.profile.origin) == (False, "built-in profile of pets")
    assert run.profile.preparation.startswith("the encoded image is sent")
    assert [w for w in texts(app.warning) if "assumed" in w] == []


def test_compare_says_so_before_the_run_and_in_the_verdict(page, pixels, tmp_path):
    from tests.dashboard.compare.support import start_comparison, wait_for
    database = str(tmp_path / "runs.db")
    app = page("compare", pixels.url, model="mine", SERVESCOPE_DB=database).run()
    before = [w for w in texts(app.warning) if "assumed" in w]
    assert before == [f"label {name} (v1): preparation assumed: {PREPARATION}; set a profile (Models page, this "
                      "session) or ask the operator for one in SERVESCOPE_PROFILES." for name in ("stable", "canary")]
    comparison_id = start_comparison(app, png_upload("a.png", (10, 90, 200)))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    assert not app.exception
    assert all(store.get_run(run_id).profile.assumed for run_id in run_ids)
    for side, name in (("A", "stable"), ("B", "canary")):
        assert (f"{side} (label {name} (v1)): preparation assumed: {PREPARATION}; set a profile: on the Models page "
                "for this session, or as mine.json in the operator's SERVESCOPE_PROFILES folder.") in texts(app.warning)
