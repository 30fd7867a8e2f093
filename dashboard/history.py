"""The session's runs as tables: one summary row per run, and every result row for download."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from client import schema

from dashboard.classify import ClassificationRun

SUMMARY_COLUMNS = ["run", "time", "kind", "model", "target", "versions", "images", "errors", "class_counts"]


def summary_table(runs: Sequence[ClassificationRun]) -> pd.DataFrame:
    rows = [{
        "run": run.run_id,
        "time": run.started_at.astimezone().strftime("%H:%M:%S"),
        "kind": run.kind,
        "model": run.model,
        "target": run.target.describe(),
        "versions": ", ".join(map(str, run.versions)),
        "images": run.n_images,
        "errors": run.n_errors,
        "class_counts": ", ".join(f"{name} {count}" for name, count in run.class_counts().items()),
    } for run in runs]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def class_names_of(runs: Sequence[ClassificationRun]) -> list[str]:
    """Every class any run reported, in the order the models listed them (first seen first)."""
    names: list[str] = []
    for run in runs:
        names += [name for name in run.class_names if name not in names]
    return names


def class_counts_long(runs: Sequence[ClassificationRun]) -> pd.DataFrame:
    """run, class, count — for the stacked history chart."""
    rows = [{"run": f"{run.run_id} ({run.target.describe()})", "class": name, "count": count}
            for run in runs for name, count in run.class_counts().items()]
    return pd.DataFrame(rows, columns=["run", "class", "count"])


def all_rows(runs: Sequence[ClassificationRun]) -> pd.DataFrame:
    """Every result row of every run, tagged with its run; class columns are the union over runs."""
    frames = []
    for run in runs:
        frame = run.csv_frame()
        frame.insert(0, "run", run.run_id)
        frame.insert(1, "time", run.started_at.isoformat(timespec="seconds"))
        frame.insert(2, "kind", run.kind)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run", "time", "kind", *schema.columns([])])
    rows = pd.concat(frames, ignore_index=True)
    # Class columns are the union over runs; keep schema order with every class of every run in the probability block.
    names = class_names_of(runs)
    return rows[["run", "time", "kind", *schema.columns(names)]]
