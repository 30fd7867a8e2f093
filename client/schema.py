"""The one result-row schema shared by the CLI's files and the dashboard's tables, exports and store.

Columns, in this order::

    source, top_class, confidence, prob_<class>..., ground_truth, correct, correction, corrected_at,
    model, target, version, profile, latency_ms, error, error_type

- source        display name: "photos/cat/1.jpg", "batch.zip/dog/2.png"
- top_class     the predicted class (None for an error row); confidence: its probability
- prob_<class>  one column per model class, in the model's order
- ground_truth  the class from folder names, file names or a truth file (None when unknown)
- correct       top_class == effective truth, when both are known; else None
- correction    a class an analyst set; corrected_at: when (ISO-8601 UTC). A correction wins over
                ground_truth: `effective_truth(row)`
- model         model name; target: what was asked for ("latest", "version:2", "label:stable");
                version: the version that answered; profile: the digest of the model profile in effect
                ("sha256:<hex>", client.profile.ModelProfile.digest)
- latency_ms    round trip of the request that carried the image; error: message naming the file;
                error_type: the exception class behind it (ImageError, ServerUnavailableError, ...)

CSV files are written only through `to_csv_bytes` / `csv_cells`, which neutralise spreadsheet
formulas (OWASP): a text cell starting with = + - @ TAB or CR gets a leading apostrophe, so a file
named `@SUM(1+1)dog.jpg` is shown as text. `csv_unsafe` undoes it when such a file is read back.
"""
from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import pandas as pd

    from client.results import ClassificationResult

__all__ = ["LEADING", "TRAILING", "PROB_PREFIX", "columns", "prob_column", "class_names_of", "target_text",
           "result_row", "effective_truth", "is_missing", "is_correct", "csv_safe", "csv_unsafe", "csv_cells",
           "to_csv_bytes"]

LEADING = ("source", "top_class", "confidence")
TRAILING = ("ground_truth", "correct", "correction", "corrected_at", "model", "target", "version", "profile",
            "latency_ms", "error", "error_type")
PROB_PREFIX = "prob_"
# What a spreadsheet reads as the start of a formula (OWASP "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def prob_column(name: str) -> str:
    return PROB_PREFIX + name


def columns(class_names: Iterable[str]) -> list[str]:
    """Every column of a result row for a model with these classes, in schema order."""
    return [*LEADING, *(prob_column(name) for name in class_names), *TRAILING]


def class_names_of(column_names: Iterable[str]) -> list[str]:
    """The classes named by the prob_ columns, in order (the inverse of `columns`)."""
    return [name[len(PROB_PREFIX):] for name in column_names if str(name).startswith(PROB_PREFIX)]


def target_text(version: int | None = None, label: str | None = None) -> str:
    """What was asked for: "latest", "version:2" or "label:stable"."""
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both")
    if version is not None:
        return f"version:{int(version)}"
    return f"label:{label}" if label is not None else "latest"


def is_missing(value: Any) -> bool:
    """None, NaN, pandas NA or an empty string (how an empty cell reads back from a CSV)."""
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def effective_truth(row: Mapping[str, Any]) -> str | None:
    """The analyst's correction if set, else the detected/supplied ground truth, else None."""
    for column in ("correction", "ground_truth"):
        value = row.get(column)
        if not is_missing(value):
            return str(value)
    return None


def is_correct(top_class: Any, truth: Any) -> bool | None:
    """top_class == truth when both are known, else None."""
    if is_missing(top_class) or is_missing(truth):
        return None
    return str(top_class) == str(truth)


def result_row(result: "ClassificationResult", class_names: Sequence[str], *, model: str, target: str,
               ground_truth: str | None = None, profile: str | None = None) -> dict[str, Any]:
    """One row in schema order. Probabilities for classes outside `class_names` are not kept; `profile` is
    the model profile's digest."""
    probabilities = result.probabilities if result.ok else {}
    row: dict[str, Any] = {
        "source": result.source,
        "top_class": result.label if result.ok else None,
        "confidence": max(probabilities.values()) if probabilities else None,
    }
    row.update({prob_column(name): probabilities.get(name) for name in class_names})
    row.update(ground_truth=ground_truth, correct=is_correct(row["top_class"], ground_truth), correction=None,
               corrected_at=None, model=model, target=target, version=result.version, profile=profile,
               latency_ms=None if result.latency_ms is None else round(result.latency_ms, 2),
               error=result.error, error_type=result.error_type)
    return row


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with an apostrophe (OWASP).

    Apostrophes already in front of such a start get one more, so `csv_unsafe` restores every value.
    Non-text values are returned unchanged.
    """
    if isinstance(value, str) and value.lstrip("'")[:1] in _FORMULA_STARTS and value.lstrip("'") != "":
        return "'" + value
    return value


def csv_unsafe(value: Any) -> Any:
    """The value `csv_safe` was given (for reading a CSV this module wrote)."""
    if isinstance(value, str) and value.startswith("'") and csv_safe(value[1:]) == value:
        return value[1:]
    return value


def _cell(value: Any) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "True" if value else "False"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)  # 2.0 (a version in a float column with gaps) is written as 2
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint", "Int")):
        return str(int(value))
    if hasattr(value, "isoformat"):  # a datetime or pandas Timestamp (corrected_at): ISO-8601
        return value.isoformat()
    return csv_safe(str(value))


def csv_cells(row: Mapping[str, Any], column_names: Sequence[str]) -> list[str]:
    """One CSV record: each column's value formatted as text, formulas neutralised, missing = ""."""
    return [_cell(row.get(name)) for name in column_names]


def to_csv_bytes(frame_or_rows: "pd.DataFrame | Iterable[Mapping[str, Any]]",
                 columns: Sequence[str] | None = None) -> bytes:
    """UTF-8 CSV of a DataFrame or of row dicts, formula-safe: the one CSV writer for CLI and dashboard.

    `columns` picks and orders the columns (absent ones are empty); by default the frame's columns,
    or the keys of the rows in first-seen order.
    """
    if hasattr(frame_or_rows, "to_dict") and hasattr(frame_or_rows, "columns"):
        names = list(columns) if columns is not None else [str(c) for c in frame_or_rows.columns]
        records: Iterable[Mapping[str, Any]] = frame_or_rows.to_dict("records")
    else:
        records = list(frame_or_rows)
        names = list(columns) if columns is not None else list(dict.fromkeys(k for r in records for k in r))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_safe(name) for name in names])
    for record in records:
        writer.writerow(csv_cells(record, names))
    return out.getvalue().encode("utf-8")
