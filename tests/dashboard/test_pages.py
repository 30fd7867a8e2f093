"""Each page through Streamlit's AppTest, against the real embedded server, with real photos uploaded."""
from __future__ import annotations

import json

import pytest

from dashboard.classify import run_classification
from dashboard.targets import Target
from dashboard.tables import FAILED_THUMBNAIL
from tests.dashboard.conftest import CORRUPT_JPEG, zip_bytes

pytestmark = pytest.mark.slow


def upload_files(few_photos, extra=()):
    return [(path.name, path.read_bytes(), "image/jpeg") for path, _ in few_photos] + list(extra)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_home_reports_a_reachable_server(page, pets_server_url):
    app = page("home", pets_server_url).run()
    assert not app.exception
    assert texts(app.success) == [f"Connected to {pets_server_url}: model 'pets' has 2 available version(s): 1, 2."]
    assert [m.value for m in app.metric] == ["2", "2", "stable→1, canary→2"]
    assert app.sidebar.text_input(key="connection_url").value == pets_server_url


def test_home_says_no_server_is_reachable_and_how_to_start_one(page, unreachable_url):
    app = page("home", unreachable_url).run()
    assert not app.exception
    [error] = texts(app.error)
    assert error.startswith(f"No TF Serving model server is reachable at {unreachable_url}")
    assert "`make run`" in error and "python -m serving --model_config_file=pets/models.config" in error
    assert "docker compose up" in error


def test_sidebar_edit_changes_the_connection_and_survives_reruns(page, pets_server_url, unreachable_url):
    app = page("home", unreachable_url).run()
    app.sidebar.text_input(key="connection_url").set_value(pets_server_url + "/").run()
    assert app.session_state["tf_serving_url"] == pets_server_url + "/"
    assert len(app.success) == 1 and not app.error
    app.run()
    assert app.sidebar.text_input(key="connection_url").value == pets_server_url + "/"


def test_models_page_lists_versions_labels_and_signatures(page, pets_server_url):
    app = page("models", pets_server_url).run()
    assert not app.exception and not app.error
    versions = app.dataframe[0].value
    assert versions[["version", "state", "labels"]].to_dict("records") == [
        {"version": 1, "state": "AVAILABLE", "labels": "stable"},
        {"version": 2, "state": "AVAILABLE", "labels": "canary"}]
    markdown = texts(app.markdown)
    assert "#### Version 1 · stable" in markdown and "#### Version 2 · canary" in markdown
    assert "`serving_default` — tensorflow/serving/predict" in markdown
    # Two signatures per version, each a table of inputs/outputs.
    assert len(app.table) == 4
    v2_images = app.table[2].value   # version 2, predict_images (sorted by name)
    assert v2_images.loc[("input", "images")].tolist() == ["DT_FLOAT", "[-1, 224, 224, 3]"]
    app.button(key="models_refresh").click().run()
    assert not app.exception and len(app.table) == 4


def test_models_page_unknown_model(page, pets_server_url):
    app = page("models", pets_server_url, model="nosuchmodel").run()
    [error] = texts(app.error)
    assert error.startswith(f"The server at {pets_server_url} has no model named 'nosuchmodel'")
    assert not app.table


def test_classify_page_uploads_photos_and_a_corrupt_file(page, pets_server_url, few_photos):
    app = page("classify", pets_server_url).run()
    assert app.button(key="classify_run").disabled
    selector = app.selectbox(key="classify_target")
    assert selector.options == ["label stable → version 1", "label canary → version 2", "version 1", "version 2",
                                "latest"]
    archive = zip_bytes({"more/" + path.name: path.read_bytes() for path, _ in few_photos[:2]})
    app.file_uploader(key="classify_uploads").set_value(upload_files(
        few_photos, [("broken.jpg", CORRUPT_JPEG, "image/jpeg"), ("more.zip", archive, "application/zip")]))
    selector.select_index(1)
    app.run()
    app.button(key="classify_run").click().run()
    assert not app.exception

    run = app.session_state["classify_last_run"]
    assert (run.n_images, run.n_errors, run.versions, run.target) == (9, 1, [2], Target(label="canary"))
    assert texts(app.warning) == [
        "9 image(s) with label canary (version 2): 8 classified, 1 error(s)."]
    assert texts(app.markdown)[-1] == "- broken.jpg: corrupt or truncated image: Truncated File Read"
    table = app.dataframe[0].value
    assert table["source"].tolist() == ([path.name for path, _ in few_photos] + ["broken.jpg"]
                                        + [f"more.zip/more/{path.name}" for path, _ in few_photos[:2]])
    # What the analyst sees: the reason next to the file name, a crossed-out tile, blanks instead of "None".
    assert list(app.dataframe[0].proto.column_order) == [
        "thumbnail", "source", "error", "top_class", "prob_cat", "prob_dog", "prob_other", "version", "latency_ms"]
    broken = table.iloc[6]
    assert (broken["error"], broken["thumbnail"], broken["top_class"], broken["version"]) == (
        "corrupt or truncated image: Truncated File Read", FAILED_THUMBNAIL, "", "2")
    assert table["error"].tolist().count("") == 8
    assert not table.drop(columns=["confidence", "prob_cat", "prob_dog", "prob_other", "latency_ms"]).isna().any().any()
    assert app.session_state["history_runs"] == [run]
    # Class-count chart, then the chosen image's probabilities and its ImageNet top-5.
    charts = app.get("vega_lite_chart")
    assert len(charts) == 3
    first = few_photos[0][0].name
    for chart, title in zip(charts, ["Top class per image", f"{first}: class probabilities",
                                     "ImageNet top-5 the backbone saw"]):
        assert f'"title": {json.dumps(title)}' in chart.proto.spec
    assert app.get("download_button")[0].proto.label == "Download results (CSV)"


def test_classify_page_shows_a_clear_error_when_the_server_is_down(page, unreachable_url, few_photos):
    app = page("classify", unreachable_url).run()
    app.file_uploader(key="classify_uploads").set_value(upload_files(few_photos[:1]))
    app.run()
    app.button(key="classify_run").click().run()
    assert not app.exception
    errors = texts(app.error)
    assert len(errors) == 2 and all(e.startswith(f"No TF Serving model server is reachable at {unreachable_url}")
                                    for e in errors)
    assert app.session_state["classify_last_run"] is None and app.session_state["history_runs"] == []


def test_compare_page_stable_against_canary(page, pets_server_url, few_photos):
    app = page("compare", pets_server_url).run()
    app.file_uploader(key="compare_uploads").set_value(upload_files(few_photos))
    app.run()
    assert app.selectbox(key="compare_target_a").value == Target(label="stable")
    assert app.selectbox(key="compare_target_b").value == Target(label="canary")
    app.button(key="compare_run").click().run()
    assert not app.exception
    comparison = app.session_state["compare_last"]
    agree = int(comparison.table["agree"].sum())
    assert [m.value for m in app.metric] == [f"{agree / 6:.0%}", "6", str(6 - agree)]
    assert len(app.get("vega_lite_chart")) == 2
    assert [run.kind for run in app.session_state["history_runs"]] == ["compare A", "compare B"]
    assert list(app.dataframe[0].proto.column_order)[:5] == ["thumbnail", "source", "top_a", "top_b", "agree"]
    assert "error" not in app.dataframe[0].proto.column_order  # nothing failed, so no empty error column


def test_compare_page_lists_a_failed_file_and_shows_its_error_up_front(page, pets_server_url, few_photos):
    app = page("compare", pets_server_url).run()
    app.file_uploader(key="compare_uploads").set_value(
        upload_files(few_photos[:2], [("broken.jpg", CORRUPT_JPEG, "image/jpeg")]))
    app.run()
    app.button(key="compare_run").click().run()
    assert not app.exception
    assert [m.value for m in app.metric][1] == "2"
    assert texts(app.markdown)[-1] == "- broken.jpg: corrupt or truncated image: Truncated File Read"
    assert list(app.dataframe[0].proto.column_order)[:3] == ["thumbnail", "source", "error"]
    broken = app.dataframe[0].value.iloc[2]
    assert (broken["error"], broken["thumbnail"], broken["top_a"], broken["top_b"]) == (
        "corrupt or truncated image: Truncated File Read", FAILED_THUMBNAIL, "", "")


def test_history_page_shows_runs_downloads_and_clears(page, pets_server_url, few_photos):
    empty = page("history", pets_server_url).run()
    assert texts(empty.info) == ["No runs yet in this session: classify or compare images first."]

    uploads = [(path.name, path.read_bytes()) for path, _ in few_photos]
    runs = [run_classification(pets_server_url, "pets", uploads, Target(label="stable")),
            run_classification(pets_server_url, "pets", uploads[:2], Target(version=2))]
    app = page("history", pets_server_url)
    app.session_state["history_runs"] = runs
    app.run()
    assert not app.exception
    summary = app.dataframe[0].value
    assert summary[["target", "versions", "images", "errors"]].to_dict("records") == [
        {"target": "label stable", "versions": "1", "images": 6, "errors": 0},
        {"target": "version 2", "versions": "2", "images": 2, "errors": 0}]
    assert len(app.dataframe[1].value) == 8
    assert list(app.dataframe[1].proto.column_order)[:5] == ["run", "time", "kind", "target", "source"]
    assert not app.dataframe[1].value[["top_class", "version", "error"]].isna().any().any()
    app.button(key="history_clear").click().run()
    assert app.session_state["history_runs"] == []
    assert texts(app.info) == ["No runs yet in this session: classify or compare images first."]
