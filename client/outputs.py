"""Result files for the CLI: CSV, JSON Lines or Parquet, appended as results arrive, with resume.

Rows: source, label, prob_<label>…, version, latency_ms, error, error_type. CSV and JSONL rows are
appended and flushed one by one, so a killed run keeps every finished row; a partial last row is
cut off (client.resume) before appending. Parquet cannot be appended to, so its rows go to a
JSON Lines journal (`FILE.parquet.partial.jsonl`) and are merged into FILE.parquet, atomically,
when the run ends; a crashed run's journal is merged by the next one.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Iterable, TextIO

import pandas as pd

from client.results import ClassificationResult
from client.resume import (FORMATS, RETRYABLE_ERRORS, completed_sources, drop_partial_tail, format_of,
                           journal_of, read_rows)

__all__ = ["FORMATS", "RETRYABLE_ERRORS", "ResultWriter", "completed_sources", "format_of"]

_LEADING = ["source", "label"]
_TRAILING = ["version", "latency_ms", "error", "error_type"]


def _columns(labels: Iterable[str]) -> list[str]:
    return [*_LEADING, *(f"prob_{label}" for label in labels), *_TRAILING]


def _labels_in(columns: Iterable[str]) -> list[str]:
    return [c[len("prob_"):] for c in columns if c.startswith("prob_")]


def _replace_atomically(path: Path, write) -> None:
    """write(temporary path), then rename over `path`: a crash leaves the old file intact."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class ResultWriter:
    """Writes result rows to `path` (None = CSV on stdout). Use as a context manager."""

    def __init__(self, path: Path | None, *, stream: TextIO | None = None) -> None:
        self.path = path
        self.kind = format_of(path) if path else "csv"
        self._stream = stream or sys.stdout
        self._handle: TextIO | None = None
        self._csv: csv.DictWriter | None = None
        self._pending: list[ClassificationResult] = []  # CSV error rows held until the labels are known
        self._existing_columns: list[str] | None = None
        self._text_path = journal_of(path) if self.kind == "parquet" else path  # where rows are appended
        if self._text_path is not None:
            drop_partial_tail(self._text_path)
        if self.kind == "csv" and path is not None and path.exists() and path.stat().st_size > 0:
            with open(path, newline="", encoding="utf-8") as handle:
                self._existing_columns = next(csv.reader(handle), None)

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, result: ClassificationResult) -> None:
        if self.kind in ("jsonl", "parquet"):
            self._text().write(json.dumps(result.as_row(list(result.probabilities)), ensure_ascii=False) + "\n")
            self._text().flush()
        elif self._csv is None and not result.ok and self._existing_columns is None:
            self._pending.append(result)
        else:
            self._write_csv(result)

    def _text(self) -> TextIO:
        if self._handle is None:
            if self._text_path is None:
                self._handle = self._stream
            else:
                self._handle = open(self._text_path, "a", newline="", encoding="utf-8")
        return self._handle

    def _write_csv(self, result: ClassificationResult) -> None:
        if self._csv is None:
            columns = self._existing_columns or _columns(result.probabilities)
            self._csv = csv.DictWriter(self._text(), fieldnames=columns, extrasaction="ignore")
            if self._existing_columns is None:
                self._csv.writeheader()
            for held in self._pending:
                self._csv.writerow(held.as_row(_labels_in(columns)))
            self._pending.clear()
        known = _labels_in(self._csv.fieldnames)
        if any(label not in known for label in result.probabilities) and self.path is not None:
            self._widen([*known, *(label for label in result.probabilities if label not in known)])
        self._csv.writerow(result.as_row(_labels_in(self._csv.fieldnames)))
        self._text().flush()

    def _widen(self, labels: list[str]) -> None:
        """Rewrite the CSV with prob_ columns for new labels (an earlier run wrote only error rows,
        or classified with another model) instead of silently dropping those probabilities."""
        assert self.path is not None and self._handle is not None
        self._handle.close()
        self._handle = None
        rows = read_rows(self.path)
        columns = _columns(labels)

        def write(temporary: Path) -> None:
            with open(temporary, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

        _replace_atomically(self.path, write)
        self._existing_columns = columns
        self._csv = csv.DictWriter(self._text(), fieldnames=columns, extrasaction="ignore")

    def close(self) -> None:
        if self.kind == "csv" and self._csv is None and self._pending:
            self._csv = csv.DictWriter(self._text(), fieldnames=_columns([]), extrasaction="ignore")
            self._csv.writeheader()
            for held in self._pending:
                self._csv.writerow(held.as_row([]))
            self._pending.clear()
        if self._handle is not None and self._handle is not self._stream:
            self._handle.close()
        elif self._handle is not None:
            self._handle.flush()
        self._handle = None
        if self.kind == "parquet" and self.path is not None and journal_of(self.path).exists():
            self._merge_parquet()

    def _merge_parquet(self) -> None:
        """FILE.parquet + its journal -> FILE.parquet (atomically), then drop the journal."""
        assert self.path is not None
        rows = read_rows(self.path)
        labels: dict[str, None] = {}
        for row in rows:
            labels.update(dict.fromkeys(_labels_in(row)))
        frame = pd.DataFrame.from_records(rows, columns=_columns(labels))
        frame["version"] = frame["version"].astype("Int64")
        _replace_atomically(self.path, lambda temporary: frame.to_parquet(temporary, index=False))
        journal_of(self.path).unlink()
