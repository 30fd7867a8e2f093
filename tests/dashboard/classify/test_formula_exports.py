"""Spreadsheet formulas in class names, ground truth, corrections and file names (issue 21): every CSV export writes
them as text (a leading apostrophe, client.schema.csv_safe), the data exports (JSON, Parquet) keep them exactly, and
the comparison report shows them as escaped text that makes no link.

The CSV exports covered: Classify's download (dashboard.runs.results.csv_bytes), History's export
(dashboard.history.summaries.export, on SQLite and PostgreSQL), Compare's per-image CSV; the CLI's --out files are in
tests/client/test_formula_outputs.py.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from html.parser import HTMLParser

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from client import schema
from dashboard.compare.decision import Side, decide
from dashboard.compare.decision_view import per_image_table
from dashboard.compare.report import report_html, report_markdown
from dashboard.history import summaries as run_history
from dashboard.runs import results as classify_runs
from tests.dashboard.compare.decision_frames import result_frame

FORMULAS = ('=HYPERLINK("http://127.0.0.1:9/x","y")', "@SUM(1+1)", "+dog", "-1+1")
CLASSES = list(FORMULAS)
FORMULA_FILE = "=cmd|' /C calc'!A0.jpg"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
URL = "http://127.0.0.1:8501"
WHEN = datetime(2026, 12, 1, tzinfo=timezone.utc)


def formula_rows() -> list[dict]:
    """Four rows: each predicts one formula class, is labelled with the next and corrected to the one after."""
    rows = []
    for position, top in enumerate(CLASSES):
        rows.append({"position": position, "source": FORMULA_FILE if position == 0 else f"photos/{position}.jpg",
                     "top_class": top, "confidence": 0.7,
                     **{schema.prob_column(c): (0.7 if c == top else 0.1) for c in CLASSES},
                     "ground_truth": CLASSES[(position + 1) % 4], "latency_ms": 5.0, "version": 1})
    return rows


@pytest.fixture
def stored(any_store):
    """A finished run with the formula rows and a formula correction on every row, on SQLite and PostgreSQL."""
    run = any_store.create_run(kind="classify", url=URL, model="pets", target="latest", total=4, class_names=CLASSES)
    any_store.update_progress(run.id, status="running", version=1)
    any_store.add_rows(run.id, formula_rows())
    for position, row in enumerate(formula_rows()):
        any_store.set_correction(run.id, row["source"], CLASSES[(position + 2) % 4])
    any_store.finish_run(run.id, "complete")
    return any_store, run.id


def csv_records(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def assert_no_formula_cell(data: bytes) -> None:
    for record in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), cell


def assert_text_cells(records: list[dict[str, str]]) -> None:
    """The formula cells of formula_rows(), each written with a leading apostrophe."""
    assert [r["source"] for r in records] == ["'" + FORMULA_FILE, "photos/1.jpg", "photos/2.jpg", "photos/3.jpg"]
    assert [r["top_class"] for r in records] == ["'" + c for c in CLASSES]
    assert [r["ground_truth"] for r in records] == ["'" + CLASSES[(i + 1) % 4] for i in range(4)]
    assert [r["correction"] for r in records] == ["'" + CLASSES[(i + 2) % 4] for i in range(4)]


def assert_exact_values(records: list[dict]) -> None:
    assert [r["source"] for r in records] == [FORMULA_FILE, "photos/1.jpg", "photos/2.jpg", "photos/3.jpg"]
    assert [r["top_class"] for r in records] == CLASSES
    assert [r["ground_truth"] for r in records] == [CLASSES[(i + 1) % 4] for i in range(4)]
    assert [r["correction"] for r in records] == [CLASSES[(i + 2) % 4] for i in range(4)]


def test_classify_downloads_write_formulas_as_text_in_csv_and_exactly_in_json(stored):
    store, run_id = stored
    rows = store.run_rows(run_id)
    data = classify_runs.csv_bytes(rows, CLASSES)
    assert_no_formula_cell(data)
    records = csv_records(data)
    assert_text_cells(records)
    assert list(records[0]) == schema.columns(CLASSES)   # prob_=HYPERLINK(...) starts with "p": no formula
    assert [schema.csv_unsafe(r["ground_truth"]) for r in records] == [CLASSES[(i + 1) % 4] for i in range(4)]
    assert_exact_values(json.loads(classify_runs.json_bytes(rows, CLASSES)))


def test_history_exports_write_formulas_as_text_in_csv_and_exactly_in_json_and_parquet(stored):
    store, run_id = stored
    exported = run_history.export(store, [run_id], "csv")
    assert_no_formula_cell(exported.data)
    assert_text_cells(csv_records(exported.data))
    assert_exact_values(json.loads(run_history.export(store, [run_id], "json").data))
    parquet = pd.read_parquet(io.BytesIO(run_history.export(store, [run_id], "parquet").data))
    assert_exact_values(parquet.to_dict("records"))


def formula_decision():
    tops = [CLASSES[i % 4] for i in range(8)]
    truths = [CLASSES[(i + 1) % 4] for i in range(8)]
    a = result_frame(tops, truths, classes=CLASSES, target="label:stable", version=1)
    b = result_frame(truths, truths, classes=CLASSES, target="label:canary", version=2)
    a.loc[0, "source"] = b.loc[0, "source"] = FORMULA_FILE
    return decide(Side(a), Side(b))


def test_compare_per_image_csv_writes_formulas_as_text():
    data = schema.to_csv_bytes(per_image_table(formula_decision()))
    assert_no_formula_cell(data)
    records = csv_records(data)
    assert "'" + FORMULA_FILE in [r["source"] for r in records]
    assert {r["truth"] for r in records} == {"'" + c for c in CLASSES}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_the_comparison_report_shows_formulas_as_text_without_links():
    decision = formula_decision()
    page = report_html(decision, generated_at=WHEN, render_charts=False)
    parser = Tags()
    parser.feed(page)
    assert "a" not in parser.tags
    assert "=HYPERLINK(&quot;http://127.0.0.1:9/x&quot;,&quot;y&quot;)" in page and "@SUM(1+1)" in page
    text = report_markdown(decision, generated_at=WHEN)
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
    kinds = {t.type for t in tokens} | {child.type for t in tokens for child in t.children or []}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}
    assert "http://127.0.0.1:9" not in text   # escaped, with a word joiner after ':': no autolink either
    assert r"\=HYPERLINK\(\"http\:" in text and r"\@" in text
