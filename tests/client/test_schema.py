"""The one result-row schema: columns, rows from results, truth and correctness, formula-safe CSV."""
from __future__ import annotations

import csv
import io
import math
from types import MappingProxyType

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from client import schema
from client.results import ClassificationResult

CLASSES = ("cat", "dog", "other")


def ok(source: str = "a.jpg", top: str = "dog") -> ClassificationResult:
    probabilities = {"cat": 0.1, "dog": 0.1, "other": 0.1, top: 0.8}
    return ClassificationResult(source=source, label=top, probabilities=MappingProxyType(probabilities), version=2,
                                latency_ms=12.3456, error=None)


def test_columns_in_contract_order():
    assert schema.columns(CLASSES) == [
        "source", "top_class", "confidence", "prob_cat", "prob_dog", "prob_other", "ground_truth", "correct",
        "correction", "corrected_at", "model", "target", "version", "profile", "latency_ms", "error", "error_type"]
    assert schema.prob_column("dog") == "prob_dog"
    assert schema.class_names_of(schema.columns(CLASSES)) == list(CLASSES)


@pytest.mark.parametrize("kwargs, text", [({}, "latest"), ({"version": 2}, "version:2"),
                                          ({"label": "stable"}, "label:stable")])
def test_target_text(kwargs, text):
    assert schema.target_text(**kwargs) == text


def test_target_text_refuses_both():
    with pytest.raises(ValueError, match="not both"):
        schema.target_text(version=1, label="stable")


def test_result_row_for_a_success_with_truth():
    row = schema.result_row(ok(top="dog"), CLASSES, model="pets", target="label:stable", ground_truth="cat",
                            profile="sha256:ab12")
    assert list(row) == schema.columns(CLASSES)
    assert row == {"source": "a.jpg", "top_class": "dog", "confidence": 0.8, "prob_cat": 0.1, "prob_dog": 0.8,
                   "prob_other": 0.1, "ground_truth": "cat", "correct": False, "correction": None,
                   "corrected_at": None, "model": "pets", "target": "label:stable", "version": 2,
                   "profile": "sha256:ab12", "latency_ms": 12.35, "error": None, "error_type": None}
    assert schema.result_row(ok(top="cat"), CLASSES, model="pets", target="latest",
                             ground_truth="cat")["correct"] is True


def test_result_row_for_an_error_keeps_truth_but_no_verdict():
    failed = ClassificationResult.failed("b.jpg", ValueError("b.jpg: not an image"), version=1)
    row = schema.result_row(failed, CLASSES, model="pets", target="version:1", ground_truth="dog")
    assert (row["top_class"], row["confidence"], row["prob_dog"], row["correct"]) == (None, None, None, None)
    assert (row["ground_truth"], row["error"], row["error_type"], row["version"]) == (
        "dog", "b.jpg: not an image", "ValueError", 1)


@pytest.mark.parametrize("row, truth", [
    ({"ground_truth": "cat", "correction": "dog"}, "dog"),
    ({"ground_truth": "cat", "correction": None}, "cat"),
    ({"ground_truth": "cat", "correction": float("nan")}, "cat"),
    ({"ground_truth": "cat", "correction": pd.NA}, "cat"),
    ({"ground_truth": "", "correction": ""}, None),
    ({}, None),
])
def test_effective_truth(row, truth):
    assert schema.effective_truth(row) == truth


def test_is_correct():
    assert schema.is_correct("cat", "cat") is True
    assert schema.is_correct("cat", "dog") is False
    assert schema.is_correct(None, "dog") is None and schema.is_correct("cat", math.nan) is None


@pytest.mark.parametrize("value, safe", [
    ("@SUM(1+1)dog.jpg", "'@SUM(1+1)dog.jpg"), ("=1+2", "'=1+2"), ("+x", "'+x"), ("-x", "'-x"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'=x", "''=x"), ("plain.jpg", "plain.jpg"), ("'quoted", "'quoted"),
    ("", ""), ("'", "'"), (-0.5, -0.5), (None, None),
])
def test_csv_safe(value, safe):
    assert schema.csv_safe(value) == safe
    assert schema.csv_unsafe(safe) == value


@given(st.text())
def test_csv_safe_never_starts_a_formula_and_round_trips(value):
    safe = schema.csv_safe(value)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert schema.csv_unsafe(safe) == value


def test_to_csv_bytes_from_rows_and_from_a_frame_read_the_same():
    rows = [schema.result_row(ok("@SUM(1+1)dog.jpg"), CLASSES, model="pets", target="version:2",
                              ground_truth="dog"),
            schema.result_row(ClassificationResult.failed("=cmd|' /C calc'!A0.png", ValueError("bad")), CLASSES,
                              model="pets", target="version:2")]
    from_rows = schema.to_csv_bytes(rows)
    frame = pd.DataFrame(rows, columns=schema.columns(CLASSES)).astype({"version": "Int64"})
    assert schema.to_csv_bytes(frame) == from_rows
    records = list(csv.DictReader(io.StringIO(from_rows.decode("utf-8"))))
    assert list(records[0]) == schema.columns(CLASSES)
    assert [r["source"] for r in records] == ["'@SUM(1+1)dog.jpg", "'=cmd|' /C calc'!A0.png"]
    assert (records[0]["correct"], records[0]["version"], records[0]["prob_dog"], records[0]["correction"]) == (
        "True", "2", "0.8", "")
    assert (records[1]["correct"], records[1]["version"], records[1]["top_class"]) == ("", "", "")


def test_to_csv_bytes_with_chosen_columns_and_utf8():
    data = schema.to_csv_bytes([{"source": "chat/é.jpg", "extra": 1}], columns=["source", "top_class"])
    assert data.decode("utf-8").splitlines() == ["source,top_class", "chat/é.jpg,"]


def test_csv_cells_format_numbers_like_the_frame_writer():
    assert schema.csv_cells({"v": 2.0, "p": 0.25, "b": True, "n": None, "s": "-1"}, ["v", "p", "b", "n", "s"]) == [
        "2", "0.25", "True", "", "'-1"]
    when = pd.Timestamp("2026-11-26T03:04:05Z")
    assert schema.csv_cells({"t": when, "d": when.to_pydatetime()}, ["t", "d"]) == [
        "2026-11-26T03:04:05+00:00", "2026-11-26T03:04:05+00:00"]
