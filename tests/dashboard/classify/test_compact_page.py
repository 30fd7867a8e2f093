"""The Classify page kept compact (AppTest on the whole app, fake TF Serving): the upload hint only while nothing is
uploaded and no run is shown, a single image's own layout, the truth line counting corrections, and the request
inspector opening on the run's predict call."""
from __future__ import annotations

import pytest

from dashboard.classify.form_view import UPLOAD_HINT
from tests.dashboard.classify.test_classify_page import (
    correct_in_view, finish, labelled_zip, press_classify, results_table, store_of, upload)
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import RED, png_upload

pytestmark = pytest.mark.slow


def test_the_upload_hint_goes_once_something_is_uploaded(page, fake_pets):
    app = page("classify", fake_pets.url).run()
    assert texts(app.info) == [UPLOAD_HINT]
    upload(app, [png_upload("one.png", RED)])
    assert UPLOAD_HINT not in texts(app.info)


def test_one_image_gets_the_single_image_layout(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload("one.png", RED)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    assert UPLOAD_HINT not in texts(app.info)
    assert [(m.label, m.value) for m in app.metric] == [("Predicted class", "cat")]
    [confidence] = store_of(tmp_path).run_rows(run_id)["confidence"].tolist()
    assert [m.proto.delta for m in app.metric] == [f"{confidence:.1%} confidence"]
    assert [e.label for e in app.expander] == ["Request inspector"]   # no histogram, review queue or table
    assert not [t for t in app.dataframe if "name" in t.value.columns] and not app.get("slider")   # no table
    specs = [chart.proto.spec for chart in app.get("vega_lite_chart")]
    assert len(specs) == 1 and "Class probabilities" in specs[0]
    # The inspector opens on the predict call, not on the metadata probes made before it.
    [picker] = [box for box in app.selectbox if box.key == "classify_inspector_pick"]
    assert picker.value is not None and ":predict -> 200" in picker.format_func(picker.value)


def test_the_truth_line_counts_the_corrections_and_long_sections_start_collapsed(page, fake_pets, shared_images,
                                                                                tmp_path):
    archive, truth = labelled_zip(shared_images)
    total = len(truth) + 1
    app = page("classify", fake_pets.url).run()
    upload(app, [("photos.zip", archive, "application/zip")])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    line = f"{len(truth)} of {total} images have ground truth (0 corrected)"
    assert line in texts(app.text)
    sections = {e.label: e.proto.expanded for e in app.expander}
    mistakes = [label for label in sections if label.startswith("Mistakes (")]
    assert len(mistakes) == 1
    for label in ("Per class", "Calibration", mistakes[0], "Confidence", "Review queue"):
        assert sections[label] is False, label
    # Correct the image that has no ground truth: the truth line counts it.
    table = results_table(app).value.reset_index(drop=True)
    [position] = table.index[table["name"] == "mystery.jpg"].tolist()
    correct_in_view(app, position, "cat")
    assert store_of(tmp_path).run_rows(run_id)["correction"].notna().sum() == 1
    assert f"{total} of {total} images have ground truth (1 corrected)" in texts(app.text)
