"""--out files: appended row by row, resumed after a crash (partial last rows), for CSV, JSONL and Parquet."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import pytest

from client.outputs import ResultWriter, completed_sources
from client.resume import journal_of
from client.results import ClassificationResult

HEADER = ["source", "label", "prob_cat", "prob_dog", "version", "latency_ms", "error", "error_type"]


def ok(source: str, label: str = "cat") -> ClassificationResult:
    probabilities = {"cat": 0.75, "dog": 0.25} if label == "cat" else {"cat": 0.25, "dog": 0.75}
    return ClassificationResult(source=source, label=label, probabilities=MappingProxyType(probabilities),
                                version=2, latency_ms=12.5, error=None)


def failed(source: str, error: Exception) -> ClassificationResult:
    return ClassificationResult.failed(source, error, version=2)


def write(path: Path, *results: ClassificationResult) -> None:
    with ResultWriter(path) as writer:
        for result in results:
            writer.write(result)


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
    assert [(r["source"], r["label"], r["prob_dog"], r["error"]) for r in rows] == [
        ("a.jpg", "cat", "0.25", ""), ("b.jpg", "dog", "0.75", ""), ("c.jpg", "cat", "0.25", "")]


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
    out.write_bytes(b"source,label,pro")
    assert completed_sources(out) == set()
    write(out, ok("a.jpg"))
    assert [r["source"] for r in csv_rows(out)] == ["a.jpg"] and list(csv_rows(out)[0]) == HEADER


def test_csv_written_with_errors_only_is_widened_when_labels_appear(tmp_path):
    out = tmp_path / "r.csv"
    write(out, failed("a.jpg", ConnectionError("down")))
    assert list(csv_rows(out)[0]) == ["source", "label", "version", "latency_ms", "error", "error_type"]
    write(out, ok("b.jpg", "dog"))
    rows = csv_rows(out)
    assert list(rows[0]) == HEADER
    assert [(r["source"], r["prob_dog"], r["error"]) for r in rows] == [("a.jpg", "", "down"), ("b.jpg", "0.75", "")]


def test_retryable_rows_are_redone_and_the_latest_row_wins(tmp_path):
    from client.errors import ServerUnavailableError
    out = tmp_path / "r.jsonl"
    unavailable = ServerUnavailableError("cannot reach the server", method="POST", url="http://x")
    write(out, failed("a.jpg", unavailable), ok("b.jpg"), failed("c.jpg", ValueError("c.jpg: not an image")))
    assert completed_sources(out) == {"b.jpg", "c.jpg"}
    write(out, ok("a.jpg"))
    assert completed_sources(out) == {"a.jpg", "b.jpg", "c.jpg"}


def test_jsonl_partial_last_line_is_ignored_and_cut(tmp_path):
    out = tmp_path / "r.jsonl"
    write(out, ok("a.jpg"))
    with open(out, "ab") as handle:
        handle.write(b'{"source": "b.jpg", "label": "ca')
    assert completed_sources(out) == {"a.jpg"}
    write(out, ok("b.jpg"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["source"], r["prob_cat"]) for r in rows] == [("a.jpg", 0.75), ("b.jpg", 0.75)]


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


def test_parquet_rows_survive_a_crash_through_the_journal(tmp_path):
    out = tmp_path / "r.parquet"
    write(out, ok("a.jpg"), failed("bad.jpg", ValueError("bad.jpg: not an image")))
    assert not journal_of(out).exists()

    crashed = ResultWriter(out)  # a run killed before close(): rows are only in the journal
    crashed.write(ok("b.jpg", "dog"))
    crashed._handle.close()
    with open(journal_of(out), "ab") as handle:
        handle.write(b'{"source": "c.jpg", "lab')  # and its last line is partial
    assert completed_sources(out) == {"a.jpg", "bad.jpg", "b.jpg"}

    write(out, ok("c.jpg"))  # the next run merges the old journal with its own rows
    assert not journal_of(out).exists()
    frame = pd.read_parquet(out)
    assert list(frame.columns) == HEADER
    assert frame["source"].tolist() == ["a.jpg", "bad.jpg", "b.jpg", "c.jpg"]
    assert frame["prob_dog"].tolist()[2] == 0.75 and pd.isna(frame["prob_dog"].tolist()[1])
    assert frame["error"].tolist()[1] == "bad.jpg: not an image"
    assert frame["version"].tolist() == [2, 2, 2, 2]
    assert completed_sources(out) == {"a.jpg", "bad.jpg", "b.jpg", "c.jpg"}


def test_damaged_parquet_is_a_clear_error(tmp_path):
    out = tmp_path / "r.parquet"
    out.write_bytes(b"PAR1 definitely not parquet")
    with pytest.raises(ValueError, match=r"r\.parquet: not a readable Parquet file"):
        completed_sources(out)
