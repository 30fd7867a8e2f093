"""History by dataset: the dataset each row ran on (or that it is gone), the image sets (dataset versions) the runs
shown were made on, and the trend of one of them per model version: accuracy with its Wilson interval, the median
latency of the runs measured alone, and the class mix. Pure (no streamlit); dashboard.history.view draws it.

Runs on one dataset version classified the same images, so their figures can be set side by side; runs of
different image sets cannot. A comparison's sides ran at the same time, each slowing the other, so their latency is
left out of the trend (classify runs are measured alone).
"""
from __future__ import annotations

from typing import Collection, Mapping, Sequence

import pandas as pd

from client.store import RunInfo, RunSummary
from dashboard.evaluate.metrics import wilson_interval
from dashboard.plain import visible

__all__ = ["DATASET_TREND_COLUMNS", "ImageSet", "dataset_cell", "dataset_trend_frame", "image_sets", "runs_on"]

DATASET_TREND_COLUMNS = ["run", "time", "kind", "version", "images", "correct", "judged", "accuracy", "low", "high",
                         "latency_p50_ms"]
ImageSet = tuple[str, int]      # (dataset id, dataset version)


def _reference(run: RunInfo, existing: Collection[str]) -> str:
    reference = f"{run.dataset_name}@{run.dataset_version}"
    return reference if run.dataset_id in existing else f"{reference} (deleted)"


def dataset_cell(runs: Sequence[RunInfo], existing: Collection[str]) -> str:
    """"march-audit@2", "march-audit@2 (deleted)" once gone, "" for uploads; a comparison's sides' joined."""
    found = dict.fromkeys(_reference(run, existing) for run in runs if run.dataset_id is not None)
    return visible(" / ".join(found))


def image_sets(shown: Sequence[RunSummary], existing: Collection[str]) -> dict[ImageSet, str]:
    """(dataset id, version) -> "march-audit@2: 5 run(s)" for the finished runs shown, the most runs first."""
    counts: dict[ImageSet, list[RunInfo]] = {}
    for summary in shown:
        run = summary.run
        if run.dataset_id is not None and run.finished:
            counts.setdefault((run.dataset_id, run.dataset_version), []).append(run)
    ordered = sorted(counts.items(), key=lambda kv: (-len(kv[1]), _reference(kv[1][0], existing)))
    return {key: visible(f"{_reference(runs[0], existing)}: {len(runs)} run(s)") for key, runs in ordered}


def runs_on(shown: Sequence[RunSummary], image_set: ImageSet) -> list[RunSummary]:
    """The finished runs shown on that dataset version with a version that answered, newest first."""
    return [s for s in shown if (s.run.dataset_id, s.run.dataset_version) == image_set and s.run.finished
            and s.run.version is not None]


def dataset_trend_frame(summaries: Sequence[RunSummary], rows_by_run: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run on one image set (oldest first): the model version that answered, accuracy with its Wilson 95%
    interval (empty without truth), and the median latency of its successful rows when it ran alone (a classify
    run; a comparison's sides ran together)."""
    records = []
    for summary in sorted(summaries, key=lambda s: s.run.created_at):
        run = summary.run
        low = high = accuracy = latency = None
        if summary.truth_known:
            accuracy = summary.correct / summary.truth_known
            low, high = wilson_interval(summary.correct, summary.truth_known)
        frame = rows_by_run.get(run.id)
        if run.kind == "classify" and frame is not None and len(frame):
            ok = frame["latency_ms"][frame["error"].isna()].dropna()
            latency = float(ok.median()) if len(ok) else None
        records.append({"run": run.id, "time": run.created_at, "kind": run.kind, "version": run.version,
                        "images": run.done, "correct": summary.correct, "judged": summary.truth_known,
                        "accuracy": accuracy, "low": low, "high": high, "latency_p50_ms": latency})
    frame = pd.DataFrame(records, columns=DATASET_TREND_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"version": "Int64", "images": "int64", "correct": "int64", "judged": "int64",
                         "accuracy": "float64", "low": "float64", "high": "float64", "latency_p50_ms": "float64"})
