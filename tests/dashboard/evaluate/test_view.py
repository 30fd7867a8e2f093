"""dashboard.evaluate.view drawn by AppTest over synthetic result frames (no server, no TensorFlow)."""
from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from client.schema import columns
from dashboard.evaluate import metrics as ev
from dashboard.evaluate.view import pending_corrections
from dashboard.plain import escape_markdown
from dashboard.runs.results import short_names
from tests.dashboard.evaluate.test_metrics import CLASSES, LABELLED, row
from tests.support import ROOT

APP = ROOT / "tests" / "dashboard" / "apps" / "evaluation_app.py"
BEACON = "x![b](http://127.0.0.1:9/beacon.png).jpg"


def synthetic_frame() -> pd.DataFrame:
    rows = [row(*item) for item in LABELLED]
    rows.append(row("o3.jpg", "dog", "other", 0.60, correction="other"))
    rows.append(row("broken.jpg", "cat", None, None, error="broken.jpg: corrupt image"))
    rows.append(row("unlabelled.jpg", None, "dog", 0.50))
    rows.append(row(BEACON, "dog", "cat", 0.99))   # a hostile file name, and the most confident mistake
    return pd.DataFrame(rows).reindex(columns=columns(CLASSES))


def tiny_thumbnail() -> str:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def start(frame: pd.DataFrame, thumbnails=None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state["frame"] = frame
    app.session_state["class_names"] = CLASSES
    if thumbnails is not None:
        app.session_state["thumbnails"] = thumbnails
    return app.run()


def table_with(app: AppTest, *names: str):
    """The one table on screen that has all these columns."""
    [table] = [t for t in app.dataframe if set(names) <= set(t.value.columns)]
    return table


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_accuracy_per_class_table_and_review_queue_match_the_rows():
    frame = synthetic_frame()
    app = start(frame)
    assert not app.exception
    summary = ev.accuracy_summary(frame, CLASSES)
    assert (summary.correct, summary.total) == (8, 12)
    accuracy = app.metric[0]
    assert (accuracy.label, accuracy.value) == ("Accuracy", "66.7%")
    assert accuracy.proto.delta == f"8/12 · {summary.interval_text()}"
    assert "8/12" in accuracy.help and f"{summary.low:.1%} to {summary.high:.1%}" in accuracy.help
    assert metrics(app)["Balanced accuracy"] == f"{summary.balanced:.1%}"   # supports 5, 4, 3: imbalanced
    assert "12 of 14 images evaluated (1 failed, 1 without ground truth)" in [c.value for c in app.caption]

    per_class = table_with(app, "precision", "recall", "f1").value.set_index("class")
    expected = ev.per_class_metrics(frame, CLASSES).set_index("class")
    expected[["precision", "recall", "f1"]] *= 100   # the table shows the rates as percents
    pd.testing.assert_frame_equal(per_class, expected, check_dtype=False)
    assert per_class.loc["cat", "support"] == 5 and per_class.loc["cat", "predicted"] == 6

    queue = table_with(app, "first", "second").value
    assert len(queue) == len(ev.review_queue(frame, CLASSES, 0.6)) == 4
    assert queue["source"].tolist() == ["c5.jpg", "d3.jpg", "unlabelled.jpg", "d2.jpg"]
    assert metrics(app)["Coverage"] == f"{ev.accuracy_at(frame, CLASSES, 0.6)['coverage']:.0%}"


@pytest.mark.slow
def test_the_charts_and_the_cell_selection_parameter_are_drawn():
    app = start(synthetic_frame())
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    titles = [json.dumps(spec.get("title")) for spec in specs]
    for title in ("Confusion matrix", "Reliability", "Top-class confidence", "Accuracy and coverage"):
        assert sum(title in t for t in titles) == 1, title
    heatmap = next(spec for spec in specs if "Confusion matrix" in json.dumps(spec.get("title")))
    assert "cell" in json.dumps(heatmap.get("params", [])) + json.dumps(heatmap.get("layer", []))
    assert {"Expected calibration error", "Brier score"} <= set(metrics(app))


@pytest.mark.slow
def test_selecting_a_confusion_cell_lists_its_images_with_thumbnails():
    frame = synthetic_frame()
    uri = tiny_thumbnail()
    app = start(frame, thumbnails={source: uri for source in frame["source"]})
    assert "Select a cell to list its images." in [c.value for c in app.caption]
    app.session_state["eval_confusion"] = {"selection": {"cell": [{"true": "dog", "predicted": "cat"}]}}
    app.run()
    assert not app.exception
    assert "True dog, predicted cat: 2 image(s)" in [t.value for t in app.text]
    cell = table_with(app, "top_class", "truth", "thumbnail").value
    assert cell["source"].tolist() == [BEACON, "d3.jpg"]   # most confident first
    assert cell["thumbnail"].tolist() == [uri, uri]


@pytest.mark.slow
def test_threshold_slider_changes_the_queue():
    frame = synthetic_frame()
    app = start(frame)
    app.slider(key="eval_threshold").set_value(0.5).run()
    queue = table_with(app, "first", "second").value
    assert queue["source"].tolist() == ev.review_queue(frame, CLASSES, 0.5)["source"].tolist() == [
        "c5.jpg", "d3.jpg"]
    assert app.session_state["threshold"] == 0.5


@pytest.mark.slow
def test_a_correction_in_the_editor_moves_accuracy_by_exactly_one_image():
    app = start(synthetic_frame())
    editor = app.data_editor[0]
    shown = editor.value
    position = shown["source"].tolist().index("c4.jpg")    # cat predicted dog: wrong
    assert shown["correction"].isna().tolist().count(False) == 1   # only o3.jpg is corrected
    app.session_state["eval_corrections"] = {"edited_rows": {position: {"correction": "dog"}}, "added_rows": [],
                                             "deleted_rows": []}
    app.run()
    assert not app.exception
    assert app.session_state["corrections"] == [("c4.jpg", "dog")]
    assert app.metric[0].value == "75.0%" and app.metric[0].proto.delta.startswith("9/12 ")
    corrected = app.session_state["frame"].set_index("source").loc["c4.jpg"]
    assert (corrected["correction"], corrected["correct"]) == ("dog", True)


@pytest.mark.slow
def test_a_correction_the_caller_does_not_keep_is_sent_once_not_in_a_loop():
    app = start(synthetic_frame())
    app.session_state["drop_corrections"] = True
    position = app.data_editor[0].value["source"].tolist().index("c4.jpg")
    app.session_state["eval_corrections"] = {"edited_rows": {position: {"correction": "dog"}}, "added_rows": [],
                                             "deleted_rows": []}
    app.run()
    assert not app.exception
    assert app.session_state["corrections"] == [("c4.jpg", "dog")]
    assert app.metric[0].proto.delta.startswith("8/12 ")
    app.run()
    assert app.session_state["corrections"] == [("c4.jpg", "dog")]


def test_without_ground_truth_only_confidence_and_the_queue_are_shown():
    frame = synthetic_frame().drop(columns=["ground_truth", "correction"])
    app = start(frame)
    assert not app.exception
    assert [i.value for i in app.info] == [
        "No ground truth for these images: accuracy, the confusion matrix and calibration need it. "
        "Correct a few predictions below to start measuring."]
    assert "Accuracy" not in metrics(app)
    assert len(table_with(app, "first", "second").value) == len(ev.review_queue(frame, CLASSES, 0.6))
    assert len(app.get("vega_lite_chart")) == 1


def test_file_names_are_shown_as_plain_text():
    app = start(synthetic_frame())
    # Without thumbnails (still being made) the mistakes are listed with st.text, most confident first.
    [listing] = [t.value for t in app.text if "predicted" in t.value]
    assert listing.splitlines()[0] == f"{BEACON}: true dog, predicted cat (99%)"
    markdown = [m.value for m in app.markdown] + [c.value for c in app.caption]
    assert not any("![b](" in text for text in markdown)


def image_grids(app: AppTest) -> list:
    """The ImageList protos of every st.image on the page."""
    return [element.proto for element in app.get("image")]


def test_mistakes_with_thumbnails_are_one_image_grid_with_escaped_captions():
    frame = synthetic_frame()
    uri = tiny_thumbnail()
    wrong = ev.mistakes(frame, CLASSES)
    app = start(frame, thumbnails={source: uri for source in frame["source"] if source != "d3.jpg"})
    assert not app.exception
    [grid] = image_grids(app)
    pictured = [source for source in wrong["source"] if source != "d3.jpg"]
    assert len(grid.imgs) == len(pictured) == len(wrong) - 1
    captions = [image.caption for image in grid.imgs]
    # Short names (the ending that tells the files apart), escaped: the hostile name shows as its own text.
    shown = dict(zip(wrong["source"], short_names(wrong["source"].tolist())))
    assert captions[0] == escape_markdown(f"{shown[BEACON]}: true dog, predicted cat (99%)")   # most confident first
    assert all("predicted" in caption for caption in captions)
    # The one without a thumbnail is still listed, as plain text.
    assert [t.value for t in app.text if "predicted" in t.value] == ["d3.jpg: true dog, predicted cat (45%)"]


def test_pending_corrections_lists_only_changed_rows():
    before = pd.DataFrame({"source": ["a", "b", "c"], "correction": [None, "cat", None]})
    after = before.assign(correction=["dog", "cat", None])
    assert pending_corrections(before, after) == [("a", "dog")]
    assert pending_corrections(before, before.assign(correction=[None, None, None])) == [("b", None)]


TRUTH_SOURCES = ["pets/cat/1.jpg", "pets/Dogs/2.jpg", "pets/kittens/3.jpg", "pets/kittens/4.jpg",
                 "pets/[x](javascript:alert(1))/5.jpg"]


def truth_app():
    import streamlit as st

    from client.truth import detect_truth
    from dashboard.evaluate.truth_view import render_truth_mapping, render_truth_summary
    from tests.dashboard.evaluate.test_view import TRUTH_SOURCES

    detection = detect_truth(TRUTH_SOURCES, ["cat", "dog", "other"], mapping=st.session_state.get("mapping"))
    render_truth_summary(detection)
    st.session_state["mapping"] = render_truth_mapping(detection, ["cat", "dog", "other"], key_prefix="truth")
    st.session_state["truth"] = detection.truth


@pytest.mark.slow
def test_truth_summary_and_mapping_editor_over_detect_truth():
    app = AppTest.from_function(truth_app, default_timeout=60).run()
    assert not app.exception
    [summary] = [c.value for c in app.caption]
    assert summary.startswith(escape_markdown("ground truth from folder names: 2 classes, 2 of 5 images; "))
    assert "[x]" not in summary and "\\[x\\]" in summary   # the folder name is escaped, not a link
    assert [w.value for w in app.warning] == [
        "2 truth value(s) on 3 image(s) match no class: map them below or they stay outside the metrics."]
    editor = app.data_editor(key="truth_truth_mapping").value
    assert editor.to_dict("records") == [{"value": "kittens", "images": 2, "class": "(ignore)"},
                                         {"value": "[x](javascript:alert(1))", "images": 1, "class": "(ignore)"}]
    app.session_state["truth_truth_mapping"] = {"edited_rows": {0: {"class": "cat"}}, "added_rows": [],
                                                "deleted_rows": []}
    app.run()   # the page passes the mapping back to detect_truth on the next run
    assert app.session_state["mapping"] == {"kittens": "cat", "[x](javascript:alert(1))": None}
    app.run()
    assert app.session_state["truth"] == {"pets/cat/1.jpg": "cat", "pets/Dogs/2.jpg": "dog",
                                          "pets/kittens/3.jpg": "cat", "pets/kittens/4.jpg": "cat"}
    assert not app.warning   # every value is now mapped or ignored on purpose
    assert app.data_editor(key="truth_truth_mapping").value["value"].tolist() == ["kittens",
                                                                                  "[x](javascript:alert(1))"]


@pytest.mark.slow
def test_result_filters_show_what_filter_results_keeps():
    frame = synthetic_frame()
    app = start(frame)
    assert app.session_state["filtered"] == frame["source"].tolist()
    assert f"{len(frame)} of {len(frame)} rows" in [c.value for c in app.caption]
    app.multiselect(key="results_filter_classes").set_value(["cat"])
    app.checkbox(key="results_filter_wrong").check().run()
    assert app.session_state["filtered"] == ["d3.jpg", BEACON] == ev.filter_results(
        frame, classes=["cat"], wrong_only=True)["source"].tolist()
    app.multiselect(key="results_filter_classes").set_value([])
    app.checkbox(key="results_filter_wrong").uncheck()
    app.checkbox(key="results_filter_review").check()
    app.slider(key="results_filter_range").set_value((0.4, 1.0)).run()
    assert app.session_state["filtered"] == ["d2.jpg", "d3.jpg", "unlabelled.jpg"]   # 0.55, 0.45, 0.50: in [0.4, 0.6)
    app.checkbox(key="results_filter_review").uncheck()
    app.slider(key="results_filter_range").set_value((0.0, 1.0))
    app.checkbox(key="results_filter_failed").check().run()
    assert app.session_state["filtered"] == ["broken.jpg"]
    assert "1 of 14 rows" in [c.value for c in app.caption]


def test_a_run_where_every_image_failed_still_draws():
    frame = synthetic_frame()
    failed = frame[frame["error"].notna()]
    app = start(failed)
    assert not app.exception
    assert "Accuracy" not in metrics(app)
    assert "0 image(s) below 60%, least confident first." in [c.value for c in app.caption]
    assert app.data_editor[0].value.empty
