"""Run the same images against two versions/labels and measure where they agree."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

import pandas as pd

from client import TFServingClient

from dashboard.classify import (ClassificationRun, ProgressCallback, build_run, classify_items, prob_column,
                                thumbnails)
from dashboard.config import PREDICT_TIMEOUT_S
from dashboard.targets import Target
from dashboard.uploads import expand_uploads


@dataclass(frozen=True)
class Comparison:
    run_a: ClassificationRun
    run_b: ClassificationRun
    table: pd.DataFrame          # per image: thumbnail, source, top_a, top_b, confidence_a/b, agree, versions, error
    probabilities: pd.DataFrame  # long form: source, class, prob_a, prob_b (images both sides classified)
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
                           "prob_a": run_a.rows.loc[ok, prob_column(name)],
                           "prob_b": run_b.rows.loc[ok, prob_column(name)]}) for name in classes]
    if not parts:
        return pd.DataFrame(columns=["source", "class", "prob_a", "prob_b"])
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


def compare_versions(url: str, model: str, uploads: Iterable[tuple[str, bytes]], target_a: Target,
                     target_b: Target, on_progress: ProgressCallback | None = None) -> Comparison:
    """Classify the same images with `target_a` then `target_b`. Progress counts both passes."""
    items = expand_uploads(uploads)
    if not items:
        raise ValueError("no files to compare: upload at least one image or ZIP archive")
    total = 2 * len(items)

    def half(offset: int) -> ProgressCallback | None:
        if on_progress is None:
            return None
        return lambda done, _total: on_progress(offset + done, total)

    item_thumbnails = thumbnails(items)
    runs = []
    with TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2) as client:
        for side, target, offset in (("A", target_a, 0), ("B", target_b, len(items))):
            started_at = datetime.now(timezone.utc)
            clock = time.perf_counter()
            results = classify_items(client, items, target, half(offset))
            runs.append(build_run(f"compare {side}", url, model, target, items, results, started_at,
                                  time.perf_counter() - clock, item_thumbnails))
    run_a, run_b = runs
    return Comparison(run_a=run_a, run_b=run_b, table=_table(run_a, run_b),
                      probabilities=_probabilities(run_a, run_b), latency=_latency(run_a, run_b))
