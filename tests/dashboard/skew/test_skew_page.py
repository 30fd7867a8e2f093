"""The Skew finder page through Streamlit's AppTest, against the fake pixel model (tests/dashboard/skew/fakes.py):
labelled uploads ranked, the cost stated, Apply sets the session's profile and the accuracy shown moves with it,
the profile downloads, and two preparations get Compare's verdict."""
from __future__ import annotations

import json

import pytest

from client import ModelProfile
from client.store.database import open_store
from dashboard.ui import state
from tests.dashboard.readable import texts
from tests.dashboard.skew.fakes import colour_model, colour_photos
from tests.support import wait_until, zip_bytes

SKEW = "app_pages/skew.py"


@pytest.fixture
def skew_page(page, fake_server, tmp_path):
    server = fake_server(colour_model())

    def open_page():
        app = page("home", server.url, model="colours")
        app.run()
        return app.switch_page(SKEW).run()
    return open_page


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


@pytest.mark.slow
def test_a_labelled_upload_is_ranked_and_applying_the_best_changes_the_accuracy_shown(skew_page, tmp_path):
    app = skew_page()
    assert not app.exception, app.exception
    items, _ = colour_photos(per_class=4)
    app.file_uploader(key="skew_uploads").set_value([("colours.zip", zip_bytes(dict(items)), "application/zip")])
    app.run()
    assert "ground truth from folder names: 3 classes, 12 of 12 images" in texts(app.caption)
    assert "Cost: up to 18 preparations × 12 image(s) = 216 images sent (preparations that send the same pixels " \
           "are sent once)." in texts(app.caption)
    app.button(key="skew_run").click().run()
    assert not app.exception, app.exception
    assert texts(app.success)[0] == ("Best fit: unit (= [0, 1] · stretch · RGB): accuracy 100.0% (75.8% to "
                                     "100.0%, 95% Wilson) on 12 labelled images.")
    cost = next(t for t in texts(app.caption) if t.startswith("Cost: 15 preparation"))
    assert cost.startswith("Cost: 15 preparation(s) classified (3 more send the same pixels, 0 refused) × 12 "
                           "image(s) = 180 images in ")
    table = next(d.value for d in app.dataframe if "within_noise" in d.value)
    assert table["preparation"].tolist()[:2] == ["unit (= [0, 1] · stretch · RGB)", "[0, 1] · center_crop · RGB"]
    assert table.loc[table["now"] != "", "preparation"].tolist() == ["pets"]
    # Nothing set yet: the default (pets) is assumed, and gets the 4 blue photos right.
    assert metric(app, "Accuracy with the default preparation (assumed now)") == "33.3%"
    assert state.SESSION_PROFILES not in app.session_state   # the profile editor's home of session profiles

    app.button(key="skew_apply").click().run()
    assert not app.exception, app.exception
    applied = app.session_state[state.SESSION_PROFILES]["colours"]
    assert applied == ModelProfile.preset("unit")
    assert metric(app, "Accuracy with this session's profile") == "100.0%"
    table = next(d.value for d in app.dataframe if "within_noise" in d.value)
    assert table.loc[table["now"] != "", "preparation"].tolist() == ["unit (= [0, 1] · stretch · RGB)"]
    download = app.get("download_button")[0]
    assert download.proto.label == "Download profile"

    # Compare's verdict between the default and the best, on the page.
    chooser = app.selectbox(key="skew_verdict_a")   # A: pets, the session's preparation when the finder ran
    assert chooser.options[chooser.value].endswith(". pets")
    assert app.selectbox(key="skew_verdict_b").value == 0
    assert any("McNemar" in t for t in texts(app.markdown) + texts(app.caption))
    assert any("same model version with different model profiles" in t for t in texts(app.warning))

    # The same two as a stored comparison: (version, profile) targets, run in the background, opened on Compare.
    app.button(key="skew_store").click().run()
    assert not app.exception, app.exception
    store = open_store(str(tmp_path / "runs.db"))
    comparison = store.get_comparison(app.session_state[state.COMPARISON])
    runs = [store.get_run(r) for r in (comparison.baseline_run_id, *comparison.other_run_ids)]
    assert [r.target for r in runs] == [f"version:1 profile:{ModelProfile.preset('pets').digest}",
                                        f"version:1 profile:{applied.digest}"]
    wait_until(lambda: all(store.get_run(r.id).status == "complete" for r in runs), timeout=60, what="both runs")
    store.close()


def test_the_profile_file_stands_alone():
    from dashboard.skew.result_view import profile_file
    base = ModelProfile.from_dict({"class_names": ["a", "b"], "preset": "keras-tf"})
    assert json.loads(profile_file(base)) == {"class_names": ["a", "b"], "preset": "keras-tf"}
