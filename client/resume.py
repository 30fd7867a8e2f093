"""Reading a results file back for resume: which sources are done, and where the complete rows end.

A run killed mid-write can leave a partial last row (a CSV record or JSON line without its
newline, or a CSV record cut inside a quoted field). Those bytes are never trusted: they are not
counted as done, and `drop_partial_tail` cuts them off before new rows are appended. Parquet output
is journalled as JSON Lines next to the file until the run ends (see outputs.py).

Rows are read in client.schema's columns. A file from before the schema (its predicted class in a
`label` column) is read too: `label` becomes `top_class`, and the file is rewritten in the current
columns when next written. When a source has several rows (a resumed run appends its new outcome),
the latest wins (`latest_rows`).
"""
from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from client.schema import csv_unsafe

__all__ = ["FORMATS", "RETRYABLE_ERRORS", "completed_sources", "csv_header", "drop_partial_tail", "format_of", "journal_of",
           "latest_rows", "read_rows"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
# Rows that failed for these reasons are classified again on resume: the server failed, or the model
# or version went away during the run; the file itself was fine.
RETRYABLE_ERRORS = frozenset({"ServerUnavailableError", "RequestTimeoutError", "VersionNotAvailableError",
                              "ModelNotFoundError"})
REQUIRED_COLUMNS = ("source", "error_type")
_OLD_CLASS_COLUMN = "label"  # before client.schema: the predicted class


def format_of(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unsupported output type {path.suffix!r}; use one of {sorted(FORMATS)}") from None


def journal_of(path: Path) -> Path:
    """Where a Parquet run keeps its rows until it ends."""
    return path.with_name(path.name + ".partial.jsonl")


def _complete_lines(data: bytes) -> tuple[list[bytes], list[int]]:
    """Newline-terminated lines (an unterminated tail is dropped) and the byte offset after each."""
    lines = data.split(b"\n")[:-1]
    return lines, list(itertools.accumulate(len(line) + 1 for line in lines))


def _upgraded(row: dict[str, Any]) -> dict[str, Any]:
    """A row in the current columns: an old file's `label` is the predicted class, `top_class`."""
    if "top_class" not in row and _OLD_CLASS_COLUMN in row:
        row = {("top_class" if key == _OLD_CLASS_COLUMN else key): value for key, value in row.items()}
    return row


def _csv_rows(path: Path, data: bytes) -> tuple[list[str], list[dict[str, Any]], int]:
    lines, ends = _complete_lines(data)
    reader = csv.reader(line.decode("utf-8", "replace") + "\n" for line in lines)
    header = next(reader, None)
    if header is None:
        return [], [], 0
    _check_columns(path, header)
    rows, good = [], ends[reader.line_num - 1]
    try:
        for record in reader:
            if len(record) != len(header):  # cut short, or a quoted field left open at the end
                break
            rows.append(_upgraded({name: csv_unsafe(cell) for name, cell in zip(header, record)}))
            good = ends[reader.line_num - 1]
    except csv.Error:
        pass
    return header, rows, good


def _jsonl_rows(path: Path, data: bytes) -> tuple[list[dict[str, Any]], int]:
    lines, ends = _complete_lines(data)
    rows, good = [], 0
    for number, (line, end) in enumerate(zip(lines, ends), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}: line {number} is not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {number} is not a JSON object")
            _check_columns(path, row)
            rows.append(_upgraded(row))
        good = end
    return rows, good


def _check_columns(path: Path, columns: Any) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{path} exists but is not a results file: it has no {missing} column "
                         f"(columns: {list(columns)[:10]}); choose another --out")


def _text_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(complete rows, byte length of the complete part) of a CSV or JSONL file."""
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    if format_of(path) == "csv":
        _, rows, good = _csv_rows(path, data)
        return rows, good
    return _jsonl_rows(path, data)


def csv_header(path: Path) -> list[str] | None:
    """The header of an existing CSV results file (None when there is none yet)."""
    if not path.exists():
        return None
    header, _, _ = _csv_rows(path, path.read_bytes())
    return header or None


def drop_partial_tail(path: Path) -> None:
    """Truncate a CSV/JSONL file after its last complete row (a no-op when it is intact)."""
    if path.exists():
        _, good = _text_rows(path)
        if good < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(good)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every complete row in `path`, oldest first (for Parquet: the file, then its journal)."""
    if format_of(path) != "parquet":
        return _text_rows(path)[0]
    rows: list[dict[str, Any]] = []
    if path.exists() and path.stat().st_size > 0:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise ValueError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
        _check_columns(path, frame.columns)
        frame = frame.astype(object).where(frame.notna(), None)
        rows = [_upgraded(row) for row in frame.to_dict("records")]
    return rows + _text_rows(journal_of(path))[0]


def latest_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per source: its latest, at the place the source first appeared."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[str(row.get("source"))] = row
    return list(latest.values())


def completed_sources(path: Path) -> set[str]:
    """Sources already in `path` whose latest row need not be redone (ok, or a per-file error)."""
    return {str(row.get("source")) for row in latest_rows(read_rows(path))
            if row.get("error_type") not in RETRYABLE_ERRORS}
