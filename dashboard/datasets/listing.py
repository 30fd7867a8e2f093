"""The Datasets page's tables: every dataset with its size, class balance and truth coverage; the versions of one;
the runs made on it, each with the address that opens it; the stored runs two of which can be compared. Pure (no
streamlit); dashboard.datasets.view draws them.

Names, notes and labels come from the analysts: every text cell is made `visible` (dashboard.plain), and a run's
address carries only its own id.
"""
from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

from client.store import DatasetSummary, DatasetVersion, RunSummary
from dashboard.plain import visible

__all__ = ["DATASET_COLUMNS", "RUN_COLUMNS", "VERSION_COLUMNS", "balance_text", "comparable_runs", "datasets_frame",
           "megabytes", "run_page", "runs_frame", "versions_frame"]

DATASET_COLUMNS = ["name", "version", "images", "size", "truth", "classes", "runs", "updated"]
VERSION_COLUMNS = ["version", "created", "images", "truth", "note", "runs"]
RUN_COLUMNS = ["open", "run", "time", "version", "kind", "target", "answered", "status", "images", "errors",
               "accuracy"]
BALANCE_SHOWN = 6


def megabytes(size: int) -> str:
    """"48.2 MB", "5.3 kB", "812 bytes" (MB of 1,000,000 bytes, as the image store's quota)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:,.1f} MB"
    return f"{size / 1000:,.1f} kB" if size >= 1000 else f"{size} bytes"


def balance_text(balance: dict[str, int] | object) -> str:
    """"cat 520, dog 520, other 310" (the most common first; the rest as "… and 4 more")."""
    pairs = list(dict(balance).items())   # type: ignore[call-overload]
    shown = ", ".join(f"{label} {count:,}" for label, count in pairs[:BALANCE_SHOWN])
    return shown + (f" and {len(pairs) - BALANCE_SHOWN} more" if len(pairs) > BALANCE_SHOWN else "")


def datasets_frame(summaries: Sequence[DatasetSummary]) -> pd.DataFrame:
    """One row per dataset: its newest version's figures; truth as a share (0–100)."""
    rows = [{"name": visible(s.name), "version": s.latest_version, "images": s.images, "size": megabytes(s.bytes),
             "truth": None if s.truth_coverage is None else 100 * s.truth_coverage,
             "classes": visible(balance_text(s.class_balance)), "runs": s.runs, "updated": s.updated_at}
            for s in summaries]
    frame = pd.DataFrame(rows, columns=DATASET_COLUMNS)
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True)
    return frame.astype({"version": "int64", "images": "int64", "truth": "float64", "runs": "int64"})


def versions_frame(versions: Sequence[DatasetVersion], runs: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per version, newest first, with the runs made on it."""
    counts: dict[int, int] = {}
    for summary in runs:
        counts[summary.run.dataset_version] = counts.get(summary.run.dataset_version, 0) + 1
    rows = [{"version": v.version, "created": v.created_at, "images": v.images, "truth": v.truth_known,
             "note": visible(v.note or ""), "runs": counts.get(v.version, 0)} for v in reversed(list(versions))]
    frame = pd.DataFrame(rows, columns=VERSION_COLUMNS)
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return frame.astype({"version": "int64", "images": "int64", "truth": "int64", "runs": "int64"})


def run_page(kind: str) -> str:
    """The page (URL path) that opens a run of this kind: Classify, or Compare (which finds its comparison)."""
    return "compare" if kind == "compare" else "classify"


def runs_frame(runs: Sequence[RunSummary], address: Callable[[RunSummary], str]) -> pd.DataFrame:
    """One row per run, newest first: `open` is address(run); accuracy 0–100 (empty without truth)."""
    rows = [{"open": address(s), "run": s.run.id, "time": s.run.created_at, "version": s.run.dataset_version,
             "kind": s.run.kind, "target": visible(s.run.target),
             "answered": "" if s.run.version is None else str(s.run.version), "status": s.run.status,
             "images": s.run.done, "errors": s.run.errors,
             "accuracy": None if s.accuracy is None else 100 * s.accuracy} for s in runs]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"version": "int64", "images": "int64", "errors": "int64", "accuracy": "float64"})


def comparable_runs(runs: Sequence[RunSummary], version: int) -> list[RunSummary]:
    """The finished runs on one dataset version that classified something: any two can be compared afterwards."""
    return [s for s in runs if s.run.dataset_version == version and s.run.finished and s.run.succeeded > 0]
