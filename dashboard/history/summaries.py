"""The History page's logic over stored runs: the run list as a table, label-moved notes, trends per version,
exports and the retention setting. Pure (no streamlit); dashboard.history.view draws it."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from dashboard.plain import visible
from dashboard.runs.results import profile_text
from client.store.database import RunSummary, Store

__all__ = ["MAX_RUNS_KEPT_SETTING", "max_runs_kept", "apply_configured_retention",
           "runs_table", "RUN_COLUMNS", "export_formats", "Export", "export",
           "trend_frame", "class_mix_frame", "TREND_COLUMNS", "MIX_COLUMNS", "parquet_available"]

MAX_RUNS_KEPT_SETTING = "SERVESCOPE_MAX_RUNS_KEPT"
RUN_COLUMNS = ["run", "time", "kind", "model", "target", "version", "status", "images", "errors", "accuracy",
               "corrections", "signature", "profile"]
TREND_COLUMNS = ["run", "time", "model", "version", "images", "accuracy", "latency_p50_ms"]
MIX_COLUMNS = ["run", "time", "version", "class", "share"]


def max_runs_kept(environ: Mapping[str, str] = os.environ) -> int | None:
    """The configured number of finished runs to keep, or None when unset (keep every run)."""
    text = (environ.get(MAX_RUNS_KEPT_SETTING) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_RUNS_KEPT_SETTING} must be a whole number >= 1, not {text!r}")
    return int(text)


def apply_configured_retention(store: Store, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Delete the finished runs beyond the configured limit (none when unset); returns the deleted ids."""
    limit = max_runs_kept(environ)
    return [] if limit is None else store.apply_retention(limit)


def runs_table(summaries: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per run, newest first as given: what History lists (times in UTC; the model and target, which come
    from the operator's settings and the server's labels, with hidden characters escaped by dashboard.plain.visible)."""
    rows = [{
        "run": s.run.id, "time": s.run.created_at, "kind": s.run.kind, "model": visible(s.run.model),
        "target": visible(s.run.target), "version": s.run.version, "status": s.run.status, "images": s.run.done,
        "errors": s.run.errors, "accuracy": s.accuracy, "corrections": s.corrections,
        "signature": s.run.signature_digest or "",   # dashboard.server.signatures.signature_digest, as Compare shows
        "profile": visible(profile_text(s.run.profile)),   # the model profile it used: digest, origin, what it is
    } for s in summaries]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"version": "Int64", "images": "int64", "errors": "int64", "accuracy": "float64",
                         "corrections": "int64"})


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def export_formats() -> list[str]:
    return ["csv", "json", *(["parquet"] if parquet_available() else [])]


@dataclass(frozen=True)
class Export:
    data: bytes
    file_name: str
    mime: str


_MIME = {"csv": "text/csv", "json": "application/json", "parquet": "application/vnd.apache.parquet"}


def export(store: Store, run_ids: Sequence[str], format: str) -> Export:
    """The runs' rows in the CLI's columns (Store.export_runs), named after the run (or the count of runs)."""
    if not run_ids:
        raise ValueError("choose at least one run to export")
    stem = f"servescope-run-{run_ids[0]}" if len(run_ids) == 1 else f"servescope-{len(run_ids)}-runs"
    return Export(store.export_runs(list(run_ids), format), f"{stem}.{format}", _MIME[format])


def trend_frame(summaries: Sequence[RunSummary], rows_by_run: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run (oldest first): model, version that answered, images, accuracy where truth is known, and the
    median latency of its successful rows. Runs without a version (none answered) are left out."""
    records = []
    for summary in sorted(summaries, key=lambda s: s.run.created_at):
        run = summary.run
        if run.version is None:
            continue
        frame = rows_by_run.get(run.id)
        latency = None
        if frame is not None and len(frame):
            ok = frame["latency_ms"][frame["error"].isna()].dropna()
            latency = float(ok.median()) if len(ok) else None
        records.append({"run": run.id, "time": run.created_at, "model": run.model, "version": run.version,
                        "images": run.done, "accuracy": summary.accuracy, "latency_p50_ms": latency})
    frame = pd.DataFrame(records, columns=TREND_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"version": "Int64", "accuracy": "float64", "latency_p50_ms": "float64"})


def class_mix_frame(summaries: Sequence[RunSummary], rows_by_run: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """run, time, version, class, share: each run's predicted classes as shares of its successful rows."""
    records = []
    for summary in sorted(summaries, key=lambda s: s.run.created_at):
        run, frame = summary.run, rows_by_run.get(summary.run.id)
        if run.version is None or frame is None:
            continue
        classes = frame["top_class"][frame["error"].isna()].dropna()
        if not len(classes):
            continue
        for name, count in classes.value_counts().items():
            records.append({"run": run.id, "time": run.created_at, "version": run.version, "class": name,
                            "share": count / len(classes)})
    frame = pd.DataFrame(records, columns=MIX_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"version": "Int64", "share": "float64"})

