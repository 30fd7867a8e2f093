"""Run the same images against two versions/labels and measure where they agree."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import pandas as pd

from client.schema import prob_column

from dashboard.classify import ClassificationRun, Item, NothingToClassify, ProgressCallback, classify_pass, open_client
from dashboard.targets import Target


@dataclass(frozen=True)
class Comparison:
    run_a: ClassificationRun
    run_b: ClassificationRun
    table: pd.DataFrame          # per image: thumbnail, source, top_a, top_b, confidence_a/b, agree, versions, error
    probabilities: pd.DataFrame  # long form: source, class, probability_a, probability_b (images both sides classified)
    latency: pd.DataFrame        # long form: target, measure, ms

    @property
    def n_compared(self) -> int:
        return int(self.table["agree"].notna().sum())

    @property
    def n_disagreements(self) -> int:
        return int((self.table["agree"] == False).sum())  # noqa: E712 (nullable booleans: NA is neither)

    @property
    def agreement_rate(self) -> float | None:
        """Share of images (classified by both) given the same top class; None when none were."""
        compared = self.table["agree"].dropna()
        return float(compared.astype(bool).mean()) if len(compared) else None


def _table(run_a: ClassificationRun, run_b: ClassificationRun) -> pd.DataFrame:
    a, b = run_a.rows, run_b.rows
    both_ok = a["error"].isna() & b["error"].isna()
    agree = (a["top_class"] == b["top_class"]).where(both_ok).astype("boolean")
    error = a["error"].where(a["error"].notna(), b["error"])
    # The verdicts side by side first: what a reader scans for.
    return pd.DataFrame({
        "thumbnail": a["thumbnail"], "source": a["source"], "top_a": a["top_class"], "top_b": b["top_class"],
        "agree": agree, "confidence_a": a["confidence"], "confidence_b": b["confidence"],
        "version_a": a["version"], "version_b": b["version"],
        "latency_a_ms": a["latency_ms"], "latency_b_ms": b["latency_ms"], "error": error,
    })


def _probabilities(run_a: ClassificationRun, run_b: ClassificationRun) -> pd.DataFrame:
    classes = [c for c in run_a.class_names if c in run_b.class_names]
    ok = run_a.rows["error"].isna() & run_b.rows["error"].isna()
    parts = [pd.DataFrame({"source": run_a.rows.loc[ok, "source"], "class": name,
                           "probability_a": run_a.rows.loc[ok, prob_column(name)],
                           "probability_b": run_b.rows.loc[ok, prob_column(name)]}) for name in classes]
    if not parts:
        return pd.DataFrame(columns=["source", "class", "probability_a", "probability_b"])
    return pd.concat(parts, ignore_index=True)


def _latency(run_a: ClassificationRun, run_b: ClassificationRun) -> pd.DataFrame:
    """Per target: the median request latency the client measured (one request carries a batch) and the wall
    time per image of the whole pass, in milliseconds."""
    rows = []
    for side, run in (("A", run_a), ("B", run_b)):
        target = f"{side}: {run.target.describe()}"
        latencies = run.rows["latency_ms"].dropna()
        if len(latencies):
            rows.append({"target": target, "measure": "request latency (median)", "ms": float(latencies.median())})
        if run.n_images:
            rows.append({"target": target, "measure": "wall time per image", "ms": 1000 * run.elapsed_s / run.n_images})
    return pd.DataFrame(rows, columns=["target", "measure", "ms"])


def compare_versions(url: str, model: str, items: Sequence[Item], target_a: Target, target_b: Target, *,
                     skipped: Sequence = (), on_progress: ProgressCallback | None = None) -> Comparison:
    """Classify the same (name, loader) items with `target_a` then `target_b`. Progress counts both passes;
    thumbnails are made once, during the first pass."""
    if not items:
        raise NothingToClassify("compare", skipped)
    total = 2 * len(items)

    def half(offset: int) -> ProgressCallback | None:
        if on_progress is None:
            return None
        return lambda done, _total: on_progress(offset + done, total)

    with open_client(url, model) as client:
        run_a = classify_pass(client, items, target_a, kind="compare A", skipped=skipped, on_progress=half(0))
        run_b = classify_pass(client, items, target_b, kind="compare B", skipped=skipped,
                              thumbnails=run_a.rows["thumbnail"].tolist(), on_progress=half(len(items)))
    return Comparison(run_a=run_a, run_b=run_b, table=_table(run_a, run_b),
                      probabilities=_probabilities(run_a, run_b), latency=_latency(run_a, run_b))
