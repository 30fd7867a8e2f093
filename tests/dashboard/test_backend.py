"""The dashboard's backend modules (no Streamlit): uploads, thumbnails, targets, errors, history, charts."""
from __future__ import annotations

import base64
import io
from datetime import datetime, timezone

import pandas as pd
import pytest
from PIL import Image

from client import (
    InvalidInputError, ModelNotFoundError, RequestTimeoutError, ServerUnavailableError, VersionNotAvailableError,
)
from dashboard import charts, config, errors, history, uploads
from dashboard.classify import ClassificationRun
from dashboard.targets import LATEST, Target, describe_option, target_options
from dashboard.thumbnails import thumbnail_data_uri
from tests.dashboard.conftest import CORRUPT_JPEG, zip_bytes


def png_bytes(size=(300, 200), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def test_expand_uploads_keeps_order_and_expands_zip_members_in_place():
    archive = zip_bytes({"pics/a.png": png_bytes(), "pics/": b"", "__MACOSX/pics/._a.png": b"junk",
                         ".DS_Store": b"junk", "b.png": png_bytes()})
    items = uploads.expand_uploads([("first.png", png_bytes()), ("batch.zip", archive), ("last.png", png_bytes())])
    assert [item.name for item in items] == ["first.png", "batch.zip/pics/a.png", "batch.zip/b.png", "last.png"]
    assert all(item.error is None and item.data for item in items)


def test_a_broken_zip_or_empty_file_costs_one_item_with_a_message_naming_it():
    items = uploads.expand_uploads([("broken.zip", b"PK\x03\x04 truncated"), ("empty.jpg", b""),
                                    ("ok.png", png_bytes())])
    assert [(item.name, item.data is None) for item in items] == [
        ("broken.zip", True), ("empty.jpg", True), ("ok.png", False)]
    assert items[0].error.startswith("broken.zip: not a readable ZIP archive")
    assert items[1].error == "empty.jpg: the file is empty"


def test_zip_member_over_the_size_limit_is_an_error_item(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_MEMBER_BYTES", 1000)
    huge = png_bytes((800, 800))
    items = uploads.expand_uploads([("big.zip", zip_bytes({"huge.png": huge, "tiny.txt": b"x"}))])
    assert items[0] == uploads.UploadItem(
        "big.zip/huge.png", None, f"big.zip/huge.png: {len(huge)} bytes uncompressed, over the limit of 1000 bytes per file")
    assert items[1] == uploads.UploadItem("big.zip/tiny.txt", b"x")


def test_thumbnail_is_a_small_jpeg_data_uri_and_non_images_get_none(few_photos):
    uri = thumbnail_data_uri(few_photos[0][0].read_bytes())
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 72
    assert thumbnail_data_uri(CORRUPT_JPEG) is None
    assert thumbnail_data_uri(None) is None


def test_target_options_and_descriptions():
    labels = {"stable": 1, "canary": 2}
    options = target_options([2, 1], labels)
    assert options == [Target(label="stable"), Target(label="canary"), Target(version=1), Target(version=2), LATEST]
    assert [describe_option(t, labels) for t in options] == [
        "label stable → version 1", "label canary → version 2", "version 1", "version 2", "latest"]
    assert Target(version=3).kwargs == {"version": 3, "label": None}
    with pytest.raises(ValueError, match="version or a label"):
        Target(version=1, label="stable")


@pytest.mark.parametrize("exc_class, expected", [
    (ServerUnavailableError, "No TF Serving model server is reachable at http://h:1 (boom). Start one with "
                             "`make run`"),
    (RequestTimeoutError, "The model server at http://h:1 did not answer in time (boom)."),
    (ModelNotFoundError, "The server at http://h:1 has no model named 'pets' (boom)."),
    (VersionNotAvailableError, "Model 'pets' at http://h:1: that version or label is not available (boom)."),
    (InvalidInputError, "Model 'pets' at http://h:1 rejected the request as invalid: boom"),
])
def test_explain_names_the_url_model_and_server_text(exc_class, expected):
    message = errors.explain(exc_class("boom", method="GET", url="http://h:1/v1/models/pets"), "http://h:1", "pets")
    assert message.startswith(expected)


def test_labels_and_url_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TF_SERVING_URL", "http://serving:8501/")
    monkeypatch.setenv("SERVESCOPE_MODEL", "flowers")
    monkeypatch.setenv("SERVESCOPE_LABELS", " canary, ,stable,canary")
    assert (config.default_url(), config.default_model(), config.default_labels()) == (
        "http://serving:8501", "flowers", ("canary", "stable"))
    monkeypatch.delenv("TF_SERVING_URL")
    monkeypatch.delenv("SERVESCOPE_LABELS")
    assert (config.default_url(), config.default_labels()) == ("http://127.0.0.1:8501", ("stable", "canary"))


def make_run(run_id: str, target: Target, tops: list[str | None]) -> ClassificationRun:
    rows = pd.DataFrame({
        "thumbnail": [None] * len(tops), "source": [f"img{i}.jpg" for i in range(len(tops))], "top_class": tops,
        "confidence": [0.9 if t else None for t in tops],
        "prob_cat": [0.9 if t == "cat" else 0.05 for t in tops], "prob_dog": [0.9 if t == "dog" else 0.05 for t in tops],
        "version": pd.array([1 if t else None for t in tops], dtype="Int64"),
        "latency_ms": [12.0 if t else None for t in tops],
        "error": [None if t else "img: not an image" for t in tops],
    })
    return ClassificationRun(run_id=run_id, kind="classify", started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                             url="http://x", model="pets", target=target, class_names=("cat", "dog"), rows=rows)


def test_run_counts_and_history_tables():
    first = make_run("aaaa", Target(label="stable"), ["cat", "cat", "dog", None])
    second = make_run("bbbb", Target(version=2), ["dog"])
    assert first.class_counts() == {"cat": 2, "dog": 1, "error": 1}
    assert (first.n_images, first.n_errors, first.versions) == (4, 1, [1])
    summary = history.summary_table([first, second])
    assert summary[["run", "target", "versions", "images", "errors", "class_counts"]].to_dict("records") == [
        {"run": "aaaa", "target": "label stable", "versions": "1", "images": 4, "errors": 1,
         "class_counts": "cat 2, dog 1, error 1"},
        {"run": "bbbb", "target": "version 2", "versions": "1", "images": 1, "errors": 0,
         "class_counts": "cat 0, dog 1"},
    ]
    rows = history.all_rows([first, second])
    assert list(rows["run"]) == ["aaaa"] * 4 + ["bbbb"]
    assert "thumbnail" not in rows.columns
    csv_text = history.to_csv_bytes(rows).decode()
    assert csv_text.splitlines()[0].startswith("run,time,kind,target,source,top_class,confidence,prob_cat,prob_dog")
    assert len(csv_text.splitlines()) == 6
    assert history.all_rows([]).empty


def test_charts_carry_the_data_in_class_order():
    spec = charts.probability_chart({"cat": 0.7, "dog": 0.2, "other": 0.1}).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert values == [{"class": "cat", "probability": 0.7}, {"class": "dog", "probability": 0.2},
                      {"class": "other", "probability": 0.1}]
    counts = charts.class_counts_chart({"cat": 2, "dog": 0, "error": 1}).to_dict()
    assert next(iter(counts["datasets"].values())) == [
        {"class": "cat", "images": 2}, {"class": "dog", "images": 0}, {"class": "error", "images": 1}]
    top5 = charts.top5_chart([("tabby", 0.5), ("tiger cat", 0.3)]).to_dict()
    assert next(iter(top5["datasets"].values()))[0] == {"imagenet_label": "tabby", "score": 0.5}
