"""--out files in client.schema's columns: appended row by row, resumed after a crash (partial last rows),
compacted to one row per source, for CSV, JSONL and Parquet."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import pytest

from client import schema
from client.errors import ServerUnavailableError
from client.outputs import ResultWriter, compact, completed_sources
from client.resume import journal_of, read_rows
from client.results import ClassificationResult

CLASSES = ("cat", "dog")
HEADER = schema.columns(CLASSES)
UNAVAILABLE = ServerUnavailableError("cannot reach the server", method="POST", url="http://x")


def ok(source: str, label: str = "cat") -> ClassificationResult:
    probabilities = {"cat": 0.75, "dog": 0.25} if label == "cat" else {"cat": 0.25, "dog": 0.75}
    return ClassificationResult(source=source, label=label, probabilities=MappingProxyType(probabilities),
                                version=2, latency_ms=12.5, error=None)


def failed(source: str, error: Exception) -> ClassificationResult:
    return ClassificationResult.failed(source, error, version=2)


def row(result: ClassificationResult, classes=CLASSES) -> dict:
    return schema.result_row(result, classes, model="pets", target="version:2")


def write(path: Path, *results: ClassificationResult, classes=CLASSES) -> None:
    with ResultWriter(path) as writer:
        for result in results:
            writer.write(row(result, classes))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_partial_last_line_is_not_done_and_is_cut_before_appending(tmp_path):
    out = tmp_path / "r.csv"
    write(out, ok("a.jpg"), ok("b.jpg", "dog"))
    with open(out, "ab") as handle:
        handle.write(b"c.jpg,cat,0.9")  # killed mid-row
    assert completed_sources(out) == {"a.jpg", "b.jpg"}
    write(out, ok("c.jpg"))
    rows = csv_rows(out)
    assert list(rows[0]) == HEADER
    assert [(r["source"], r["top_class"], r["prob_dog"], r["model"], r["target"], r["error"]) for r in rows] == [
        ("a.jpg", "cat", "0.25", "pets", "version:2", ""), ("b.jpg", "dog", "0.75", "pets", "version:2", ""),
        ("c.jpg", "cat", "0.25", "pets", "version:2", "")]


def test_csv_cut_inside_a_quoted_multiline_field(tmp_path):
    out = tmp_path / "r.csv"
    write(out, ok("a.jpg"), failed("b.jpg", ValueError("line one\nline two")))
    intact = out.read_bytes()
    with open(out, "ab") as handle:
        handle.write(b'c.jpg,,,,2,,"server said\nsomething')  # the newline inside quotes is not a row end
    assert completed_sources(out) == {"a.jpg", "b.jpg"}
    ResultWriter(out).close()
    assert out.read_bytes() == intact
    assert csv_rows(out)[1]["error"] == "line one\nline two"


def test_csv_header_only_partially_written_starts_afresh(tmp_path):
    out = tmp_path / "r.csv"
    out.write_bytes(b"source,top_class,con")
    assert completed_sources(out) == set()
    write(out, ok("a.jpg"))
    assert [r["source"] for r in csv_rows(out)] == ["a.jpg"] and list(csv_rows(out)[0]) == HEADER


def test_csv_written_with_errors_only_is_widened_when_classes_appear(tmp_path):
    out = tmp_path / "r.csv"
    write(out, failed("a.jpg", ConnectionError("down")), classes=())
    assert list(csv_rows(out)[0]) == schema.columns([])
    write(out, ok("b.jpg", "dog"))
    rows = csv_rows(out)
    assert list(rows[0]) == HEADER
    assert [(r["source"], r["prob_dog"], r["error"]) for r in rows] == [("a.jpg", "", "down"), ("b.jpg", "0.75", "")]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_a_resume_leaves_exactly_one_row_per_source_the_latest(tmp_path, suffix):
    out = tmp_path / f"r.{suffix}"
    write(out, failed("a.jpg", UNAVAILABLE), ok("b.jpg"), failed("c.jpg", ValueError("c.jpg: not an image")),
          failed("d.jpg", UNAVAILABLE))
    assert completed_sources(out) == {"b.jpg", "c.jpg"}
    write(out, ok("a.jpg", "dog"), ok("d.jpg"))
    rows = read_rows(out)
    assert [(r["source"], r["top_class"] or None, r["error_type"] or None) for r in rows] == [
        ("a.jpg", "dog", None), ("b.jpg", "cat", None), ("c.jpg", None, "ValueError"), ("d.jpg", "cat", None)]
    assert completed_sources(out) == {"a.jpg", "b.jpg", "c.jpg", "d.jpg"}
    assert not list(tmp_path.glob(".*.tmp")) and not journal_of(out).exists()


def test_a_crash_before_compaction_keeps_every_row_and_the_next_run_compacts(tmp_path):
    out = tmp_path / "r.jsonl"
    write(out, failed("a.jpg", UNAVAILABLE), ok("b.jpg"))
    crashed = ResultWriter(out)  # killed before close(): the retried row is appended, not yet compacted
    crashed.write(row(ok("a.jpg")))
    crashed._handle.close()
    assert [r["source"] for r in read_rows(out)] == ["a.jpg", "b.jpg", "a.jpg"]
    assert completed_sources(out) == {"a.jpg", "b.jpg"}  # the latest row wins
    compact(out)
    assert [(r["source"], r["error_type"]) for r in read_rows(out)] == [("a.jpg", None), ("b.jpg", None)]


def test_compaction_replaces_the_file_atomically(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    write(out, failed("a.jpg", UNAVAILABLE))
    with open(out, "a", newline="") as handle:  # a retried row appended by a run killed before it compacted
        csv.writer(handle).writerow(schema.csv_cells(row(ok("a.jpg")), HEADER))
    before = out.read_bytes()
    replaced = []
    real_replace = os.replace

    def failing_replace(source, target):
        replaced.append((Path(source).name, Path(target).name))
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        compact(out)
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
    assert replaced == [(f".r.csv.{os.getpid()}.tmp", "r.csv")]
    monkeypatch.setattr(os, "replace", real_replace)
    compact(out)
    assert [(r["source"], r["top_class"]) for r in csv_rows(out)] == [("a.jpg", "cat")]


def test_jsonl_partial_last_line_is_ignored_and_cut(tmp_path):
    out = tmp_path / "r.jsonl"
    write(out, ok("a.jpg"))
    with open(out, "ab") as handle:
        handle.write(b'{"source": "b.jpg", "top_cla')
    assert completed_sources(out) == {"a.jpg"}
    write(out, ok("b.jpg"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(r) for r in rows] == [HEADER, HEADER]
    assert [(r["source"], r["prob_cat"], r["correct"]) for r in rows] == [("a.jpg", 0.75, None), ("b.jpg", 0.75, None)]


def test_jsonl_corrupt_line_in_the_middle_is_a_clear_error(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"source": "a.jpg", "error_type": null}\nnot json\n{"source": "b.jpg", "error_type": null}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl: line 2 is not valid JSON"):
        completed_sources(out)


@pytest.mark.parametrize("name, content", [("notes.csv", "a,b\n1,2\n"), ("notes.jsonl", '{"a": 1}\n')])
def test_an_unrelated_file_is_refused_not_appended_to(tmp_path, name, content):
    out = tmp_path / name
    out.write_text(content)
    with pytest.raises(ValueError, match=r"exists but is not a results file: it has no \['source', 'error_type'\]"):
        completed_sources(out)
    assert out.read_text() == content


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_file_from_before_the_schema_is_read_and_rewritten_in_the_new_columns(tmp_path, suffix):
    out = tmp_path / f"old.{suffix}"
    old = [{"source": "a.jpg", "label": "dog", "prob_cat": 0.25, "prob_dog": 0.75, "version": 1, "latency_ms": 3.0,
            "error": None, "error_type": None},
           {"source": "b.jpg", "label": None, "prob_cat": None, "prob_dog": None, "version": 1, "latency_ms": None,
            "error": "cannot reach the server", "error_type": "ServerUnavailableError"}]
    if suffix == "csv":
        out.write_bytes(schema.to_csv_bytes(old))
    else:
        out.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert completed_sources(out) == {"a.jpg"}
    write(out, ok("b.jpg"))
    rows = read_rows(out)
    assert [list(r) for r in rows] == [HEADER, HEADER]
    assert [(r["source"], r["top_class"], str(r["version"]), r["target"] or None) for r in rows] == [
        ("a.jpg", "dog", "1", None), ("b.jpg", "cat", "2", "version:2")]


def test_parquet_rows_survive_a_crash_through_the_journal(tmp_path):
    out = tmp_path / "r.parquet"
    write(out, ok("a.jpg"), failed("bad.jpg", ValueError("bad.jpg: not an image")))
    assert not journal_of(out).exists()

    crashed = ResultWriter(out)  # a run killed before close(): rows are only in the journal
    crashed.write(row(ok("b.jpg", "dog")))
    crashed._handle.close()
    with open(journal_of(out), "ab") as handle:
        handle.write(b'{"source": "c.jpg", "top')  # and its last line is partial
    assert completed_sources(out) == {"a.jpg", "bad.jpg", "b.jpg"}

    write(out, ok("c.jpg"))  # the next run merges the old journal with its own rows
    assert not journal_of(out).exists()
    frame = pd.read_parquet(out)
    assert list(frame.columns) == HEADER
    assert frame["source"].tolist() == ["a.jpg", "bad.jpg", "b.jpg", "c.jpg"]
    assert frame["prob_dog"].tolist()[2] == 0.75 and pd.isna(frame["prob_dog"].tolist()[1])
    assert frame["error"].tolist()[1] == "bad.jpg: not an image"
    assert frame["version"].tolist() == [2, 2, 2, 2] and str(frame["version"].dtype) == "Int64"
    assert completed_sources(out) == {"a.jpg", "bad.jpg", "b.jpg", "c.jpg"}


def test_damaged_parquet_is_a_clear_error(tmp_path):
    out = tmp_path / "r.parquet"
    out.write_bytes(b"PAR1 definitely not parquet")
    with pytest.raises(ValueError, match=r"r\.parquet: not a readable Parquet file"):
        completed_sources(out)


def test_csv_cells_are_formula_safe_and_read_back_unchanged(tmp_path):
    out = tmp_path / "r.csv"
    write(out, ok("@SUM(1+1)dog.jpg"), failed("=HYPERLINK(x).png", ValueError("-bad")))
    text = out.read_text(encoding="utf-8")
    assert "\n'@SUM(1+1)dog.jpg," in text and "\n'=HYPERLINK(x).png," in text and ",'-bad," in text
    assert completed_sources(out) == {"@SUM(1+1)dog.jpg", "=HYPERLINK(x).png"}
    write(out, ok("@SUM(1+1)dog.jpg"))  # already there: a rerun would skip it; written again, still one row
    assert [r["source"] for r in read_rows(out)] == ["@SUM(1+1)dog.jpg", "=HYPERLINK(x).png"]
