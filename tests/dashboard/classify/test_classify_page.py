"""The Classify page through AppTest: ground truth found on the uploaded names, the evaluation, corrections,
exports and honest outcomes of the background runs (their lasting, cancel, retry and links: test_classify_runs.py).

Fast tests use the fake TF Serving (tests/support.py: it labels an image by the dominant channel of its first
pixel, so real photos get deterministic, arbitrary classes); every expected figure is computed here from the rows
the run stored. One slow test runs the real pets model on the embedded server. Each test has its own
SERVESCOPE_DB (the `page` fixture).
"""
from __future__ import annotations

import base64
import io
import json
import math

import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from werkzeug.wrappers import Request

from client import schema
from dashboard.classify.display import FAILED_THUMBNAIL
from dashboard.runs import results as classify_runs
from client.store.database import RunInfo, open_store
from dashboard.ui import state
from tests.dashboard.conftest import CORRUPT_JPEG
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BEACON, BLUE, GREEN, INJECTED, RED, assert_plain, markdown_bodies, png_upload
from tests.support import (
    BAD_MARK,
    ROOT,
    fake_model_handler,
    fake_prediction,
    half_plus_two_metadata,
    json_response,
    png_bytes,
    wait_until,
    zip_bytes,
)


# -- helpers ----------------------------------------------------------------------------------------
def run_id_of(app) -> str:
    value = app.query_params["run"]
    return value if isinstance(value, str) else value[0]


def store_of(tmp_path):
    return open_store(tmp_path / "runs.db")


def upload(app, files) -> None:
    app.file_uploader[0].set_value(files)
    app.run()


def press_classify(app) -> str:
    app.button(key="classify_run").click().run()
    assert not app.exception
    return run_id_of(app)


def finish(app, tmp_path, run_id: str | None = None, timeout: float = 60) -> RunInfo:
    """Wait for the run to end in the store and its thumbnails (stored after its rows), then draw the page
    again."""
    store = store_of(tmp_path)
    run_id = run_id or run_id_of(app)
    wait_until(lambda: store.get_run(run_id).finished, timeout=timeout, what=f"run {run_id} to finish")
    assert state.run_manager().wait_thumbnails(run_id, timeout), f"the thumbnails of run {run_id}"
    app.run()
    assert not app.exception
    return store.get_run(run_id)


def labelled_zip(shared_images) -> tuple[bytes, dict[str, str]]:
    """Every test photo under photos/<class>/, a corrupt file in cat/, one photo in a folder naming no class."""
    members, truth = {}, {}
    for folder in ("cat", "dog", "other"):
        for path in sorted((shared_images / folder).iterdir()):
            members[f"photos/{folder}/{path.name}"] = path.read_bytes()
            truth[f"photos/{folder}/{path.name}"] = folder
    members["photos/cat/broken.jpg"] = CORRUPT_JPEG
    truth["photos/cat/broken.jpg"] = "cat"
    members["photos/unsorted/mystery.jpg"] = sorted((shared_images / "dog").iterdir())[0].read_bytes()
    return zip_bytes(members), truth


def metric(app, label: str):
    [found] = [m for m in app.metric if m.label == label]
    return found


def accuracy_of(rows: pd.DataFrame) -> tuple[int, int]:
    truth = [schema.effective_truth(row) for row in rows.to_dict("records")]
    judged = [(top, true) for top, true in zip(rows["top_class"], truth) if isinstance(top, str) and true]
    return sum(top == true for top, true in judged), len(judged)


def wilson(successes: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval, worked from its textbook formula."""
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return centre - half, centre + half


def frame_with(app, column: str) -> pd.DataFrame:
    """The one table on the page with this column (read-only tables carry no key to find them by)."""
    [found] = [frame.value for frame in app.dataframe if column in frame.value.columns]
    return found


def results_table(app):
    """The results table (the one table with a `name` column): a st.dataframe whose rows open the detail view."""
    [table] = [frame for frame in app.dataframe if "name" in frame.value.columns]
    return table


def correct_in_view(app, row: int, true_class: str) -> None:
    """Click row `row` of the results table (it opens the image detail view), choose `true_class` and save."""
    from dashboard.evaluate.detail_view import SAVE_BUTTON
    table = results_table(app)
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    app.run()
    [choice] = [radio for radio in app.radio if radio.label.startswith("True class")]
    choice.set_value(true_class).run()
    [save] = [button for button in app.button if button.label == SAVE_BUTTON]
    save.click().run()
    assert not app.exception, app.exception


# -- ground truth, evaluation, corrections ------------------------------------------------------------------
@pytest.mark.slow
def test_a_labelled_zip_is_evaluated_without_another_step(page, fake_pets, shared_images, tmp_path):
    archive, truth = labelled_zip(shared_images)
    app = page("classify", fake_pets.url).run()
    upload(app, [("photos.zip", archive, "application/zip")])
    total = len(truth) + 1
    assert texts(app.caption)[-1] == (f"ground truth from folder names: 3 classes, {len(truth)} of {total} images; "
                                      "1 without a class: 'unsorted' (1)")
    assert texts(app.warning) == ["1 truth value(s) on 1 image(s) match no class: map them below or they stay "
                                  "outside the metrics."]
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert (run.status, run.total, run.done, run.errors) == ("complete", total, total, 1)
    assert texts(app.warning)[0] == f"Run {run_id}: complete: {total - 1} of {total} image(s) classified, 1 failed."

    rows = store_of(tmp_path).run_rows(run_id)
    stored_truth = rows["ground_truth"].astype(object).where(rows["ground_truth"].notna(), None)
    assert dict(zip(rows["source"], stored_truth)) == {**{f"photos.zip/{s}": t for s, t in truth.items()},
                                                       "photos.zip/photos/unsorted/mystery.jpg": None}
    correct, judged = accuracy_of(rows)
    assert judged == len(truth) - 1   # the corrupt file has truth but no prediction
    accuracy = metric(app, "Accuracy")
    low, high = wilson(correct, judged)
    assert (accuracy.value, accuracy.proto.delta) == (f"{correct / judged:.1%}",
                                                      f"{correct}/{judged} · 95% CI {low:.1%}–{high:.1%}")

    # The per-class table's counts are the confusion matrix's margins, computed here from the stored rows.
    good = rows[rows["top_class"].notna() & rows["ground_truth"].notna()]
    confusion = pd.crosstab(good["ground_truth"], good["top_class"]).reindex(
        index=["cat", "dog", "other"], columns=["cat", "dog", "other"], fill_value=0)
    per_class = frame_with(app, "precision").set_index("class")
    assert per_class["support"].tolist() == confusion.sum(axis=1).tolist()
    assert per_class["predicted"].tolist() == confusion.sum(axis=0).tolist()
    for name in ("cat", "dog", "other"):
        recall = confusion.at[name, name] / confusion.loc[name].sum()
        assert math.isclose(per_class.at[name, "recall"], recall * 100)   # shown as a percent, one decimal

    # The heatmap's own cells: every count of the confusion matrix.
    [heatmap] = [chart for chart in app.get("vega_lite_chart") if "Confusion matrix" in chart.proto.spec]
    cells = pd.concat([convert_arrow_bytes_to_pandas_df(dataset.data.data) for dataset in heatmap.proto.datasets])
    drawn = cells.pivot_table(index="true", columns="predicted", values="count", aggfunc="sum").reindex(
        index=confusion.index, columns=confusion.columns, fill_value=0)
    assert drawn.astype(int).to_numpy().tolist() == confusion.to_numpy().tolist()

    # The review queue: every classified image below 60 %, least confident first.
    below = rows[rows["confidence"] < 0.6].sort_values("confidence", kind="stable")
    queue = frame_with(app, "first_p")
    assert queue["source"].tolist() == below["source"].tolist()

    # The results table: short names, thumbnails from the store, the corrupt file's crossed-out tile.
    table = results_table(app).value
    assert table["name"].tolist() == [source.split("/")[-1] for source in rows["source"]]
    broken = table[table["name"] == "broken.jpg"].iloc[0]
    assert broken["thumbnail"] == FAILED_THUMBNAIL
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in table.loc[table["name"] != "broken.jpg",
                                                                                "thumbnail"])
    # Exports: every row in the CLI's columns, with the truth and the run's model, target and version.
    assert [button.proto.label for button in app.get("download_button")] == ["Download results (CSV)",
                                                                            "Download results (JSON)"]
    exported = pd.read_csv(io.BytesIO(classify_runs.csv_bytes(rows, ["cat", "dog", "other"])))
    assert exported.columns.tolist() == schema.columns(["cat", "dog", "other"])
    assert set(exported["target"]) == {"label:stable"} and set(exported["model"]) == {"pets"}
    assert exported["correct"].dropna().astype(bool).sum() == correct


@pytest.mark.slow
def test_a_correction_moves_accuracy_by_exactly_one_image(page, fake_pets, shared_images, tmp_path):
    archive, _ = labelled_zip(shared_images)
    app = page("classify", fake_pets.url).run()
    upload(app, [("photos.zip", archive, "application/zip")])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    store = store_of(tmp_path)
    correct, judged = accuracy_of(store.run_rows(run_id))
    assert metric(app, "Accuracy").value == f"{correct / judged:.1%}"
    # Correct the first wrong prediction in the detail view a click on its row opens (rows in run order).
    table = results_table(app).value.reset_index(drop=True)
    wrong = table.index[(table["correct"] == False)].tolist()  # noqa: E712 - a nullable column
    assert wrong, "the fake labels some photos wrongly"
    position = wrong[0]
    correct_in_view(app, position, table.at[position, "top_class"])
    rows = store.run_rows(run_id)
    assert rows["correction"].notna().sum() == 1 and rows["corrected_at"].notna().sum() == 1
    assert accuracy_of(rows) == (correct + 1, judged)
    assert metric(app, "Accuracy").value == f"{(correct + 1) / judged:.1%}"
    # The JSON export carries the correction and when it was made.
    exported = json.loads(classify_runs.json_bytes(rows, ["cat", "dog", "other"]))
    assert [(row["correction"] is not None, row["corrected_at"] is not None) for row in exported].count(
        (True, True)) == 1


@pytest.mark.slow
def test_a_csv_truth_file_gives_the_ground_truth(page, fake_pets, few_photos, tmp_path):
    uploads = [(path.name, path.read_bytes(), "image/jpeg") for path, _ in few_photos]
    csv_text = "file,label\n" + "".join(f"{path.name},{label.upper()}S\n" for path, label in few_photos)
    app = page("classify", fake_pets.url).run()
    upload(app, uploads)
    assert texts(app.caption)[-1].startswith("no ground truth found")
    app.file_uploader[1].set_value([("truth.csv", csv_text.encode(), "text/csv")])
    app.run()
    assert texts(app.caption)[-1] == f"ground truth from the truth file: 3 classes, {len(few_photos)} of " \
                                     f"{len(few_photos)} images"
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    rows = store_of(tmp_path).run_rows(run_id)
    assert rows["ground_truth"].tolist() == [label for _, label in few_photos]
    correct, judged = accuracy_of(rows)
    assert metric(app, "Accuracy").value == f"{correct / judged:.1%}"


# -- outcomes and plain text (moved from test_pages.py) ----------------------------------------------------
@pytest.mark.slow
def test_the_final_status_counts_successes_and_failures(page, fake_server, tmp_path):
    def predict(request: Request):
        # Full batches (16 images) are answered; the last, short one fails as if the server had gone away.
        if len(json.loads(request.get_data())["instances"]) < 16:
            return json_response({"error": "backend gone"}, 500)
        return fake_model_handler()(request)

    server = fake_server(fake_model_handler(predict=predict))
    app = page("classify", server.url).run()
    upload(app, [png_upload(f"{i}.png", RED) for i in range(20)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    assert texts(app.warning)[0] == f"Run {run_id}: complete: 16 of 20 image(s) classified, 4 failed."
    assert app.button(key="classify_retry").label == "Retry failed rows (4)"
    # The run names its signature as Compare, History and the report do.
    digest = state.run_store().get_run(run_id).signature_digest
    assert digest.startswith("sha256:") and any(t.endswith(f"signature {digest}") for t in texts(app.caption))


@pytest.mark.slow
def test_a_failed_run_is_shown_open(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload("red.png", RED)])
    fake_pets.stop()
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert run.status == "failed"
    [error] = texts(app.error)
    assert error.startswith(f"Run {run_id}: failed with 0 of 1 done: 0 of 1 image(s) classified, 1 not run (")


def test_a_model_that_cannot_classify_images_fails_with_a_typed_error(page, fake_server, tmp_path):
    server = fake_server(fake_model_handler(metadata=half_plus_two_metadata))
    app = page("classify", server.url, model="half_plus_two").run()
    upload(app, [png_upload("red.png", RED)])
    assert not app.exception
    assert texts(app.error)[0].startswith(f"Model 'half_plus_two' at {server.url} cannot be used to classify images")
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert run.status == "failed" and "'x'" in run.error
    assert not [call for call in server.calls if call[0] == "POST"]  # nothing was sent to predict


@pytest.mark.slow
def test_names_and_server_texts_are_shown_as_plain_text(page, fake_server, tmp_path):
    def predict(request: Request):
        instances = json.loads(request.get_data())["instances"]
        images = [base64.b64decode(item["image_bytes"]["b64"]) for item in instances]
        if any(BAD_MARK.encode() in image for image in images):  # the marked PNG's batch, with Markdown in the error
            return json_response({"error": INJECTED}, 400)
        return json_response({"predictions": [fake_prediction(image) for image in images]})

    server = fake_server(fake_model_handler(predict=predict))
    archive = zip_bytes({f"x![b]({BEACON}).jpg": CORRUPT_JPEG, f"y![c]({BEACON}).png": png_bytes(GREEN, marked=True),
                         f".z![d]({BEACON}).png": b"hidden"})
    app = page("classify", server.url).run()
    upload(app, [("batch.zip", archive, "application/zip"), png_upload("red.png", RED)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    shown = "\n".join(texts(app.markdown) + texts(app.warning))
    assert f"batch.zip/x![b]({BEACON}).jpg" in shown and f"batch.zip/.z![d]({BEACON}).png (hidden file)" in shown
    assert f"batch.zip/y![c]({BEACON}).png: rejected by the server (400): {INJECTED}" in shown
    assert_plain(markdown_bodies(app))


def test_an_archive_with_nothing_to_classify_says_what_it_skipped(page, fake_pets):
    app = page("classify", fake_pets.url).run()
    upload(app, [("junk.zip", zip_bytes({".DS_Store": b"x", "readme.md": b"#"}), "application/zip")])
    app.button(key="classify_run").click().run()
    assert not app.exception
    assert texts(app.error) == ["no images to classify: upload at least one image or ZIP archive of images "
                                "(skipped 2: junk.zip/.DS_Store (hidden file); junk.zip/readme.md (not an image "
                                "suffix: .md))"]
    assert not [call for call in fake_pets.calls if call[0] == "POST"]


# -- servers without the metadata API (issue 13, KServe) ----------------------------------------------------
@pytest.mark.slow
def test_a_configured_signature_classifies_where_the_server_serves_no_metadata(page, fake_server, tmp_path):

    from werkzeug.wrappers import Response

    def predict_only(request: Request):
        if request.method != "POST":   # a router's plain 404 for status and metadata, as in front of KServe
            return Response("404 page not found\n", status=404, content_type="text/plain")
        return fake_model_handler()(request)

    server = fake_server(predict_only)
    # The same JSON the Kubernetes KServe component hands the dashboard as SERVESCOPE_SIGNATURE.
    signature = ROOT / "deploy/kubernetes/components/kserve/pets-signature.json"
    app = page("classify", server.url, SERVESCOPE_SIGNATURE=signature.read_text(), SERVESCOPE_LABELS="").run()
    assert not app.exception, app.exception[0].stack
    assert not app.error
    assert texts(app.info)[0] == (
        "This server does not serve TF Serving's status and metadata API (e.g. a KServe route): versions, labels "
        "and signatures are not available from it. Images are classified with the signature the operator "
        "configured (SERVESCOPE_SIGNATURE): classes cat, dog, other.")
    upload(app, [png_upload("cat/red.png", RED), png_upload("dog/blue.png", BLUE)])
    assert texts(app.caption)[-1] == "ground truth from folder names: 2 classes, 2 of 2 images"
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert (run.status, run.done, run.errors, run.version) == ("complete", 2, 0, None)
    assert metric(app, "Accuracy").value == "50.0%"
    assert {path for method, path in server.calls if method == "POST"} == {"/v1/models/pets:predict"}


def test_a_bad_signature_setting_is_named(page, fake_pets):
    app = page("classify", fake_pets.url, SERVESCOPE_SIGNATURE='{"class_names": ["cat"], "colour": 1}').run()
    [error] = texts(app.error)
    assert error.startswith("SERVESCOPE_SIGNATURE: not a usable signature configuration (")


# -- the real pets model -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_photos_on_the_canary_are_evaluated_and_one_photo_shows_its_imagenet_top5(page, pets_server_url,
                                                                                      shared_images, tmp_path):
    archive, truth = labelled_zip(shared_images)
    app = page("classify", pets_server_url).run()
    app.selectbox(key="classify_target").select_index(1)   # label canary -> version 2
    upload(app, [("photos.zip", archive, "application/zip")])
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id, timeout=300)
    assert (run.status, run.version, run.target, run.errors) == ("complete", 2, "label:canary", 1)
    assert run.labels_at_start == {"stable": 1, "canary": 2}
    rows = store_of(tmp_path).run_rows(run_id)
    correct, judged = accuracy_of(rows)
    assert judged == len(truth) - 1 and metric(app, "Accuracy").value == f"{correct / judged:.1%}"
    assert correct / judged > 0.5   # the demo model is far better than chance on its own test photos

    photo = sorted((shared_images / "cat").iterdir())[0]
    upload(app, [(photo.name, photo.read_bytes(), "image/jpeg")])
    single = press_classify(app)
    finish(app, tmp_path, single, timeout=120)
    [preview] = app.image   # the photo itself, large (a stored run has only its 96 px thumbnail)
    assert preview.value[0] and app.session_state["classify_preview"][0] == single
    specs = [chart.proto.spec for chart in app.get("vega_lite_chart")]
    assert any("ImageNet top-5" in spec for spec in specs) and any("Class probabilities" in spec for spec in specs)


@pytest.mark.slow
def test_a_folder_upload_names_the_classes(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    app.radio(key="classify_upload_kind").set_value("A folder").run()
    # The browser sends each file of a folder upload under its path inside the folder.
    upload(app, [png_upload("shots/cats/a.png", RED), png_upload("shots/dogs/b.png", BLUE),
                 png_upload("shots/Dogs/c.png", GREEN)])
    assert texts(app.caption)[-1] == "ground truth from folder names: 2 classes, 3 of 3 images"
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    rows = store_of(tmp_path).run_rows(run_id)
    assert rows["ground_truth"].tolist() == ["cat", "dog", "dog"]
    assert metric(app, "Accuracy").value == "66.7%"


@pytest.mark.slow
def test_a_camera_photo_is_classified_and_shown_large(page, fake_pets, tmp_path):
    import io as bytes_io

    from PIL import Image
    photo = bytes_io.BytesIO()
    Image.new("RGB", (64, 48), RED).save(photo, format="JPEG")
    app = page("classify", fake_pets.url).run()
    app.radio(key="classify_upload_kind").set_value("Camera").run()
    app.camera_input[0].set_value(("camera.jpg", photo.getvalue(), "image/jpeg")).run()
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    assert texts(app.success) == [f"Run {run_id}: complete: 1 of 1 image(s) classified."]
    [preview] = app.image
    assert preview.value[0] and app.session_state["classify_preview"][0] == run_id
    assert any("Class probabilities" in chart.proto.spec for chart in app.get("vega_lite_chart"))
