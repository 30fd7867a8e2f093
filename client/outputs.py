"""Result files for the CLI: CSV, JSON Lines or Parquet, with resume.

Rows: source, label, prob_<label>…, version, latency_ms, error, error_type. CSV and JSONL are
appended row by row (an interrupted run keeps what it finished); Parquet is rewritten at the end.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Iterable, TextIO

import pandas as pd

from client.results import ClassificationResult

__all__ = ["FORMATS", "RETRYABLE_ERRORS", "ResultWriter", "completed_sources", "format_of"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
# Rows that failed for these reasons are classified again on resume (the server, not the file, failed).
RETRYABLE_ERRORS = frozenset({"ServerUnavailableError", "RequestTimeoutError"})
_LEADING = ["source", "label"]
_TRAILING = ["version", "latency_ms", "error", "error_type"]


def format_of(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unsupported output type {path.suffix!r}; use one of {sorted(FORMATS)}") from None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    kind = format_of(path)
    if kind == "parquet":
        return pd.read_parquet(path).to_dict("records")
    if kind == "jsonl":
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def completed_sources(path: Path) -> set[str]:
    """Sources already in `path` whose latest row need not be redone (ok, or a per-file error)."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    latest: dict[str, Any] = {}
    for row in _read_rows(path):
        latest[str(row.get("source"))] = row.get("error_type")
    return {source for source, error_type in latest.items() if error_type not in RETRYABLE_ERRORS}


def _columns(labels: Iterable[str]) -> list[str]:
    return [*_LEADING, *(f"prob_{label}" for label in labels), *_TRAILING]


class ResultWriter:
    """Writes result rows to `path` (None = CSV on stdout). Use as a context manager."""

    def __init__(self, path: Path | None, *, stream: TextIO | None = None) -> None:
        self.path = path
        self.kind = format_of(path) if path else "csv"
        self._stream = stream or sys.stdout
        self._handle: TextIO | None = None
        self._csv: csv.DictWriter | None = None
        self._pending: list[ClassificationResult] = []  # CSV rows held until the labels are known
        self._parquet_results: list[ClassificationResult] = []
        self._existing_columns: list[str] | None = None
        if path is not None and path.exists() and path.stat().st_size > 0 and self.kind == "csv":
            with open(path, newline="", encoding="utf-8") as handle:
                self._existing_columns = next(csv.reader(handle), None)

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, result: ClassificationResult) -> None:
        if self.kind == "parquet":
            self._parquet_results.append(result)
        elif self.kind == "jsonl":
            labels = list(result.probabilities)
            self._text().write(json.dumps(result.as_row(labels), ensure_ascii=False) + "\n")
            self._text().flush()
        elif self._csv is None and not result.ok and self._existing_columns is None:
            self._pending.append(result)
        else:
            self._write_csv(result)

    def _text(self) -> TextIO:
        if self._handle is None:
            if self.path is None:
                self._handle = self._stream
            else:
                self._handle = open(self.path, "a", newline="", encoding="utf-8")
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
        self._csv.writerow(result.as_row(_labels_in(self._csv.fieldnames)))
        self._text().flush()

    def close(self) -> None:
        if self.kind == "csv" and self._csv is None and self._pending:
            self._csv = csv.DictWriter(self._text(), fieldnames=_columns([]), extrasaction="ignore")
            self._csv.writeheader()
            for held in self._pending:
                self._csv.writerow(held.as_row([]))
            self._pending.clear()
        if self.kind == "parquet" and self._parquet_results and self.path is not None:
            labels: dict[str, None] = {}
            for result in self._parquet_results:
                labels.update(dict.fromkeys(result.probabilities))
            new = pd.DataFrame([r.as_row(list(labels)) for r in self._parquet_results])
            if self.path.exists() and self.path.stat().st_size > 0:
                new = pd.concat([pd.read_parquet(self.path), new], ignore_index=True)
            new.to_parquet(self.path, index=False)
            self._parquet_results.clear()
        if self._handle is not None and self._handle is not self._stream:
            self._handle.close()
        elif self._handle is not None:
            self._handle.flush()
        self._handle = None


def _labels_in(columns: Iterable[str]) -> list[str]:
    return [c[len("prob_"):] for c in columns if c.startswith("prob_")]
