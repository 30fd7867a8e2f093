"""Result files for the CLI: CSV, JSON Lines or Parquet in client.schema's columns, with resume.

CSV and JSONL rows are appended and flushed one by one, so a killed run keeps every finished row;
a partial last row is cut off (client.resume) before appending. A resumed run appends the new
outcome of a source that already has a row; when the run ends (or is interrupted) the file is
compacted to one row per source, the latest, by writing a temporary file and renaming it over the
original (os.replace), so a crash at any moment leaves either the old or the new file, never a
mix. Parquet cannot be appended to: its rows go to a JSON Lines journal (`FILE.parquet.partial.jsonl`)
and are merged into FILE.parquet the same way when the run ends; a crashed run's journal is merged
by the next one. CSV cells are formula-safe (client.schema.csv_cells).
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TextIO

import pandas as pd

from client import schema
from client.resume import (FORMATS, RETRYABLE_ERRORS, completed_sources, csv_header, drop_partial_tail, format_of,
                           journal_of, latest_rows, read_rows)

__all__ = ["FORMATS", "RETRYABLE_ERRORS", "ResultWriter", "compact", "completed_sources", "format_of"]

Row = Mapping[str, Any]


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """write(temporary path) and fsync, then rename over `path`: a crash leaves the old file intact."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _columns_for(rows: Iterable[Row]) -> list[str]:
    """Schema columns for every class named in `rows`, in first-seen order."""
    classes: dict[str, None] = {}
    for row in rows:
        classes.update(dict.fromkeys(schema.class_names_of(row)))
    return schema.columns(classes)


def _write_csv(path: Path, rows: list[Row], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(schema.csv_cells(row, columns) for row in rows)


def _write_jsonl(path: Path, rows: list[Row], columns: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(_json_line(row, columns))


def _write_parquet(path: Path, rows: list[Row], columns: list[str]) -> None:
    frame = pd.DataFrame.from_records([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    for column in ("confidence", "latency_ms", *(schema.prob_column(c) for c in schema.class_names_of(columns))):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["version"] = pd.to_numeric(frame["version"], errors="coerce").astype("Int64")
    frame["correct"] = frame["correct"].map(_as_bool).astype("boolean")
    frame.to_parquet(path, index=False)


def _as_bool(value: Any) -> bool | None:
    if schema.is_missing(value):
        return None
    return value if isinstance(value, bool) else str(value) == "True"


def _json_line(row: Row, columns: list[str]) -> str:
    return json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False, default=str) + "\n"


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}


def compact(path: Path) -> None:
    """Rewrite `path` (and merge a Parquet journal) as one row per source in the current columns, atomically.
    A no-op for a CSV/JSONL file that already has one current-format row per source."""
    kind = format_of(path)
    journal = journal_of(path)
    if not path.exists() and not (kind == "parquet" and journal.exists()):
        return
    rows = read_rows(path)
    latest = latest_rows(rows)
    columns = _columns_for(latest)
    current = csv_header(path) == columns if kind == "csv" else all(set(columns) <= set(r) for r in rows)
    if len(latest) == len(rows) and current and not (kind == "parquet" and journal.exists()):
        return
    _replace_atomically(path, lambda temporary: _WRITERS[kind](temporary, latest, columns))
    if kind == "parquet":
        journal.unlink(missing_ok=True)


class ResultWriter:
    """Writes schema rows to `path` (None = CSV on stdout), then compacts it. Use as a context manager."""

    def __init__(self, path: Path | None, *, stream: TextIO | None = None) -> None:
        self.path = path
        self.kind = format_of(path) if path else "csv"
        self._stream = stream or sys.stdout
        self._handle: TextIO | None = None
        self._columns: list[str] | None = None
        self._text_path = journal_of(path) if self.kind == "parquet" else path  # where rows are appended
        if self._text_path is not None:
            drop_partial_tail(self._text_path)

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, row: Row) -> None:
        """Append one row (client.schema.result_row); every row of a run has the same classes."""
        if self._columns is None:
            self._columns = self._start(schema.columns(schema.class_names_of(row)))
        if self.kind == "csv":
            csv.writer(self._text()).writerow(schema.csv_cells(row, self._columns))
        else:
            self._text().write(_json_line(row, self._columns))
        self._text().flush()

    def _start(self, columns: list[str]) -> list[str]:
        """The columns to append with. An existing CSV with other columns (another model's classes, an
        old format, error rows only) is first rewritten in the union of both."""
        if self.kind != "csv":
            return columns
        existing = csv_header(self.path) if self.path is not None else None
        if existing is None:
            csv.writer(self._text()).writerow(columns)
            return columns
        if existing == columns:
            return columns
        rows = read_rows(self.path)
        merged = _columns_for([*rows, dict.fromkeys(columns)])
        _replace_atomically(self.path, lambda temporary: _write_csv(temporary, rows, merged))
        return merged

    def _text(self) -> TextIO:
        if self._handle is None:
            if self._text_path is None:
                self._handle = self._stream
            else:
                self._handle = open(self._text_path, "a", newline="", encoding="utf-8")
        return self._handle

    def close(self) -> None:
        if self._handle is not None and self._handle is not self._stream:
            self._handle.close()
        elif self._handle is not None:
            self._handle.flush()
        self._handle = None
        if self.path is not None:
            compact(self.path)
