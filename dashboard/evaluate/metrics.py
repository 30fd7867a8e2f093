"""How well a run did against ground truth: pure functions over a result frame in the schema of client/schema.py.

Rows that failed (an `error`) or have no effective truth stay in the results but are outside every metric;
`coverage` says how many. The effective truth is the analyst's `correction` when set, else `ground_truth`.
A missing `ground_truth`/`correction` column reads as "no truth" (frames made before truth existed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import numpy as np
import pandas as pd

from client import schema
from client.schema import prob_column
from dashboard.runs.pairing import column_or_none, effective_truth  # noqa: F401 - this module's names too
from dashboard.runs.stats import Z_95, wilson_bounds as wilson_interval  # noqa: F401 - this module's names too

# "Imbalanced" (and balanced accuracy shown): among the classes with any true image, the largest has more than
# this many times the images of the smallest.
IMBALANCE_RATIO = 1.5
RIGHT, WRONG, NO_TRUTH = "right", "wrong", "no ground truth"


def correct_column(frame: pd.DataFrame) -> pd.Series:
    """`correct` as the schema defines it: top_class == effective truth when both are known, else None."""
    pairs = list(zip(column_or_none(frame, "top_class"), effective_truth(frame)))
    decided = {pair: schema.is_correct(*pair) for pair in set(pairs)}
    return pd.Series([decided[pair] for pair in pairs], index=frame.index, dtype=object)


def _classified_mask(frame: pd.DataFrame) -> pd.Series:
    return column_or_none(frame, "error").isna() & column_or_none(frame, "top_class").notna()


def classified(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that got a prediction (no error)."""
    return frame[_classified_mask(frame)]


def evaluated(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """The rows inside the metrics: classified without error, with an effective truth that is a model class.
    Columns: the frame's, plus `truth` and `is_correct` (bool)."""
    truth = effective_truth(frame)
    keep = _classified_mask(frame) & truth.isin(list(class_names))
    rows = frame.loc[keep].assign(truth=truth[keep])
    return rows.assign(is_correct=(rows["top_class"] == rows["truth"]).astype(bool))


@dataclass(frozen=True)
class Coverage:
    images: int
    failed: int
    without_truth: int
    truth_not_a_class: int   # a truth value the model cannot predict (a mapping left unresolved)
    evaluated: int

    def text(self) -> str:
        parts = [f"{count} {what}" for count, what in ((self.failed, "failed"),
                                                        (self.without_truth, "without ground truth"),
                                                        (self.truth_not_a_class, "with a truth that is not a class"))
                 if count]
        return f"{self.evaluated} of {self.images} images evaluated" + (f" ({', '.join(parts)})" if parts else "")


def coverage(frame: pd.DataFrame, class_names: Sequence[str]) -> Coverage:
    failed = ~_classified_mask(frame)
    truth = effective_truth(frame)
    n_evaluated = len(evaluated(frame, class_names))
    without = int((~failed & truth.isna()).sum())
    return Coverage(images=len(frame), failed=int(failed.sum()), without_truth=without,
                    truth_not_a_class=int((~failed).sum()) - without - n_evaluated, evaluated=n_evaluated)


@dataclass(frozen=True)
class AccuracySummary:
    correct: int
    total: int
    value: float
    low: float                   # Wilson 95% interval
    high: float
    balanced: float              # mean recall over the classes present in the truth
    imbalanced: bool
    support: dict[str, int]      # images per true class, every model class listed

    def value_text(self) -> str:
        return f"{self.value:.1%}"

    def count_text(self) -> str:
        return f"{self.correct}/{self.total}"

    def interval_text(self) -> str:
        return f"95% CI {self.low:.1%}–{self.high:.1%}"


def accuracy_summary(frame: pd.DataFrame, class_names: Sequence[str]) -> AccuracySummary | None:
    """None when no row has both a prediction and a truth."""
    rows = evaluated(frame, class_names)
    if rows.empty:
        return None
    correct, total = int(rows["is_correct"].sum()), len(rows)
    support = {name: int((rows["truth"] == name).sum()) for name in class_names}
    present = [count for count in support.values() if count]
    recalls = [rows.loc[rows["truth"] == name, "is_correct"].mean() for name in class_names if support[name]]
    low, high = wilson_interval(correct, total)
    return AccuracySummary(correct=correct, total=total, value=correct / total, low=low, high=high,
                           balanced=float(np.mean(recalls)), imbalanced=max(present) > IMBALANCE_RATIO * min(present),
                           support=support)


def cross_counts(row_values: pd.Series, column_values: pd.Series, names: Sequence[str],
                 axes: tuple[str, str]) -> pd.DataFrame:
    """Counts of each (row value, column value) pair, every name on both axes in the given order (zeros too);
    `axes` names the index and the columns."""
    names = list(names)
    table = pd.crosstab(pd.Categorical(row_values, categories=names),
                        pd.Categorical(column_values, categories=names), dropna=False)
    table = table.reindex(index=names, columns=names, fill_value=0).astype(int)
    table.index.name, table.columns.name = axes
    return table


def confusion_matrix(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Counts, true class on rows and predicted class on columns, every model class in model order."""
    rows = evaluated(frame, class_names)
    return cross_counts(rows["truth"], rows["top_class"], class_names, ("true", "predicted"))


def confusion_long(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per cell for the heatmap: true, predicted, count, row_share (of the true class; NaN for an empty
    row) and the texts it prints."""
    table = confusion_matrix(frame, class_names)
    totals = table.sum(axis=1)
    cells = [{"true": t, "predicted": p, "count": int(table.at[t, p]),
              "row_share": table.at[t, p] / totals[t] if totals[t] else math.nan}
             for t in table.index for p in table.columns]
    long = pd.DataFrame(cells, columns=["true", "predicted", "count", "row_share"])
    long["count_text"] = long["count"].astype(str)
    long["share_text"] = [f"{share:.0%}" if not math.isnan(share) else "" for share in long["row_share"]]
    return long


def per_class_metrics(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """class, precision, recall, f1, support (true images), predicted. Undefined ratios (nothing predicted as,
    or no image of, the class) are NaN rather than 0, so the table does not claim a class scored zero."""
    table = confusion_matrix(frame, class_names).to_numpy()
    hits, support, predicted = np.diag(table), table.sum(axis=1), table.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    return pd.DataFrame({"class": list(class_names), "precision": precision, "recall": recall, "f1": f1,
                         "support": support.astype(int), "predicted": predicted.astype(int)})


def cell_images(frame: pd.DataFrame, class_names: Sequence[str], true: str, predicted: str) -> pd.DataFrame:
    """The evaluated rows of one confusion-matrix cell, most confident first."""
    rows = evaluated(frame, class_names)
    rows = rows[(rows["truth"] == true) & (rows["top_class"] == predicted)]
    return rows.sort_values("confidence", ascending=False, kind="stable")


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bins (lower, upper] of width 1/n_bins; 0 goes in the first. Edges as k/n so 0.3 lands in (0.2, 0.3]."""
    edges = np.arange(n_bins + 1) / n_bins
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability_bins(frame: pd.DataFrame, class_names: Sequence[str], n_bins: int = 10) -> pd.DataFrame:
    """lower, upper, count, confidence (mean top-class confidence), accuracy — one row per bin, empty bins too
    (count 0, NaN means) so the diagram's axis is the same for every run."""
    rows = evaluated(frame, class_names)
    index = _bin_index(rows["confidence"].to_numpy(dtype=float), n_bins)
    grouped = pd.DataFrame({"bin": index, "confidence": rows["confidence"].to_numpy(dtype=float),
                            "correct": rows["is_correct"].to_numpy(dtype=float)}).groupby("bin")
    bins = pd.DataFrame({"lower": np.arange(n_bins) / n_bins, "upper": np.arange(1, n_bins + 1) / n_bins})
    bins["count"] = grouped.size().reindex(range(n_bins), fill_value=0).to_numpy().astype(int)
    bins["confidence"] = grouped["confidence"].mean().reindex(range(n_bins)).to_numpy()
    bins["accuracy"] = grouped["correct"].mean().reindex(range(n_bins)).to_numpy()
    return bins


def expected_calibration_error(frame: pd.DataFrame, class_names: Sequence[str], n_bins: int = 10) -> float:
    """Σ_bins (n_b / N)·|accuracy_b − confidence_b| over the top-class confidence; NaN with nothing evaluated."""
    bins = reliability_bins(frame, class_names, n_bins)
    total = bins["count"].sum()
    if not total:
        return math.nan
    filled = bins[bins["count"] > 0]
    return float((filled["count"] / total * (filled["accuracy"] - filled["confidence"]).abs()).sum())


def brier_score(frame: pd.DataFrame, class_names: Sequence[str]) -> float:
    """Multi-class Brier score: mean over images of Σ_classes (p_k − 1[k = truth])², 0 (perfect) to 2."""
    rows = evaluated(frame, class_names)
    if rows.empty:
        return math.nan
    probabilities = rows[[prob_column(name) for name in class_names]].to_numpy(dtype=float)
    onehot = (rows["truth"].to_numpy()[:, None] == np.array(list(class_names))[None, :]).astype(float)
    return float(((probabilities - onehot) ** 2).sum(axis=1).mean())


def mistakes(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Wrong predictions, most confident first (the ones a threshold would not catch)."""
    rows = evaluated(frame, class_names)
    return rows[~rows["is_correct"]].sort_values("confidence", ascending=False, kind="stable")


def confidence_histogram(frame: pd.DataFrame, class_names: Sequence[str], n_bins: int = 10) -> pd.DataFrame:
    """lower, upper, outcome (right / wrong / no ground truth), count — every classified row once."""
    rows = classified(frame)
    outcome = correct_column(rows).map({True: RIGHT, False: WRONG}).where(
        effective_truth(rows).isin(list(class_names)), NO_TRUTH)
    index = _bin_index(rows["confidence"].to_numpy(dtype=float), n_bins)
    counts = pd.DataFrame({"bin": index, "outcome": outcome.to_numpy()}).value_counts().rename("count").reset_index()
    counts["lower"], counts["upper"] = counts["bin"] / n_bins, (counts["bin"] + 1) / n_bins
    order = {RIGHT: 0, WRONG: 1, NO_TRUTH: 2}
    counts = counts.sort_values(["bin", "outcome"], key=lambda c: c.map(order) if c.name == "outcome" else c)
    return counts[["lower", "upper", "outcome", "count"]].reset_index(drop=True)


def review_queue(frame: pd.DataFrame, class_names: Sequence[str], threshold: float) -> pd.DataFrame:
    """Classified rows with confidence below `threshold`, least confident first, with the two likeliest classes:
    source, confidence, first, first_p, second, second_p, truth."""
    rows = classified(frame)
    rows = rows[rows["confidence"] < threshold].sort_values("confidence", kind="stable")
    probabilities = rows[[prob_column(name) for name in class_names]].to_numpy(dtype=float)
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :2] if len(rows) else np.zeros((0, 2), int)
    names = np.array(list(class_names), dtype=object)
    second = order[:, 1] if len(class_names) > 1 else order[:, 0]
    return pd.DataFrame({
        "source": rows["source"].to_numpy(), "confidence": rows["confidence"].to_numpy(dtype=float),
        "first": names[order[:, 0]], "first_p": np.take_along_axis(probabilities, order[:, :1], 1).ravel(),
        "second": names[second], "second_p": probabilities[np.arange(len(rows)), second],
        "truth": effective_truth(rows).to_numpy(),
    }, index=rows.index)


def accuracy_coverage(frame: pd.DataFrame, class_names: Sequence[str], steps: int = 100,
                      thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """threshold, kept, coverage (share of evaluated images at or above the threshold), accuracy on those kept
    (NaN when none is kept) — for `thresholds`, by default 0, 1/steps, …, 1."""
    rows = evaluated(frame, class_names)
    confidence, right = rows["confidence"].to_numpy(dtype=float), rows["is_correct"].to_numpy(dtype=bool)
    grid = np.arange(steps + 1) / steps if thresholds is None else np.asarray(thresholds, dtype=float)
    kept = confidence[None, :] >= grid[:, None]
    n_kept = kept.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(n_kept > 0, (kept & right[None, :]).sum(axis=1) / n_kept, np.nan)
        share = n_kept / len(rows) if len(rows) else np.full(len(grid), np.nan)
    return pd.DataFrame({"threshold": grid, "kept": n_kept, "coverage": share, "accuracy": accuracy})


def accuracy_at(frame: pd.DataFrame, class_names: Sequence[str], threshold: float) -> pd.Series:
    """One row of accuracy_coverage: kept, coverage and accuracy if images below `threshold` went to a person."""
    return accuracy_coverage(frame, class_names, thresholds=[threshold]).iloc[0]


def filter_results(frame: pd.DataFrame, *, classes: Sequence[str] | None = None, errors_only: bool = False,
                   wrong_only: bool = False, confidence_range: tuple[float, float] = (0.0, 1.0),
                   review_below: float | None = None) -> pd.DataFrame:
    """The results table's filters, combined with AND. `classes`: predicted class among these. `errors_only`:
    rows that failed. `wrong_only`: predictions that disagree with the truth. `confidence_range`: inclusive;
    narrowing it drops failed rows (they have no confidence). `review_below`: rows the review queue holds."""
    keep = pd.Series(True, index=frame.index)
    confidence = pd.to_numeric(column_or_none(frame, "confidence"), errors="coerce")
    if classes is not None:
        keep &= column_or_none(frame, "top_class").isin(list(classes))
    if errors_only:
        keep &= column_or_none(frame, "error").notna()
    if wrong_only:
        keep &= correct_column(frame).eq(False)
    low, high = confidence_range
    if (low, high) != (0.0, 1.0):
        keep &= confidence.between(low, high)
    if review_below is not None:
        keep &= _classified_mask(frame) & (confidence < review_below)
    return frame.loc[keep]


def utc_now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def apply_correction(frame: pd.DataFrame, source: str, correction: str | None, class_names: Sequence[str],
                     corrected_at: str | None = None) -> pd.DataFrame:
    """A new frame where every row named `source` has `correction` (None clears it), `corrected_at` (now, ISO-8601
    UTC, or None when cleared) and `correct` recomputed. The input frame is left as it was."""
    if correction is not None and correction not in class_names:
        raise ValueError(f"correction for {source!r}: {correction!r} is not one of the model's classes "
                         f"({', '.join(class_names)})")
    match = frame["source"] == source
    if not match.any():
        raise ValueError(f"correction: no result row has source {source!r}")
    updated = frame.copy()
    for name in ("correction", "corrected_at", "correct"):
        updated[name] = column_or_none(updated, name)
    updated.loc[match, "correction"] = correction
    updated.loc[match, "corrected_at"] = None if correction is None else (corrected_at or utc_now_text())
    updated["correct"] = correct_column(updated)
    return updated
