"""The evidence tables behind a decision, built from the per-image paired frame (dashboard.runs.pairing.pair_rows,
which History's verdicts use too; its columns are described there)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from client.schema import prob_column
from dashboard.evaluate import metrics as evaluation
from dashboard.runs.latency_probe import SideProbe
from dashboard.runs.pairing import (  # noqa: F401 - the paired frame's names, used across compare/
    BOTH_RIGHT, BOTH_WRONG, FIX, NO_TRUTH, REGRESSION, RIGHT, WRONG, pair_rows, transition)

def flip_matrix(paired: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Counts of A's top class (rows) × B's top class (columns); every class in `order`, zero rows too."""
    return evaluation.cross_counts(paired["top_a"], paired["top_b"], order, ("A", "B"))


def flip_cells(matrix: pd.DataFrame) -> pd.DataFrame:
    """The flip matrix as one row per cell (a_class, b_class, count, flip) for a heatmap."""
    cells = [{"a_class": a, "b_class": b, "count": int(matrix.at[a, b]), "flip": a != b}
             for a in matrix.index for b in matrix.columns]
    return pd.DataFrame(cells, columns=["a_class", "b_class", "count", "flip"])


def flips_by_pair(paired: pd.DataFrame) -> pd.DataFrame:
    """a_class, b_class, images — only cells where the top class changed, most frequent first."""
    flips = paired[paired["flipped"]]
    counts = flips.groupby(["top_a", "top_b"]).size().rename("images").reset_index()
    counts = counts.rename(columns={"top_a": "a_class", "top_b": "b_class"})
    return counts.sort_values(["images", "a_class", "b_class"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)


def images_in_cell(paired: pd.DataFrame, a_class: str, b_class: str) -> pd.DataFrame:
    """The paired rows of one flip-matrix cell, biggest probability shift first."""
    rows = paired[(paired["top_a"] == a_class) & (paired["top_b"] == b_class)]
    return rows.sort_values(["js_distance", "source"], ascending=[False, True], kind="stable")


def transitions(paired: pd.DataFrame) -> pd.DataFrame:
    """The 2×2 of right/wrong: rows A right/wrong, columns B right/wrong (images with truth)."""
    known = paired[paired["transition"] != NO_TRUTH]
    a = known["correct_a"].astype(bool)
    b = known["correct_b"].astype(bool)
    table = pd.DataFrame([[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]],
                         index=pd.Index([RIGHT, WRONG], name="A"), columns=pd.Index([RIGHT, WRONG], name="B"))
    return table


def per_class_recall(paired: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """class, support (paired images of that true class), recall_a, recall_b, change (B − A; NaN without support)."""
    known = paired[paired["transition"] != NO_TRUTH]
    rows = []
    for name in order:
        of_class = known[known["truth"] == name]
        support = len(of_class)
        recall_a = float(of_class["correct_a"].astype(bool).mean()) if support else np.nan
        recall_b = float(of_class["correct_b"].astype(bool).mean()) if support else np.nan
        rows.append({"class": name, "support": support, "recall_a": recall_a, "recall_b": recall_b,
                     "change": recall_b - recall_a})
    return pd.DataFrame(rows, columns=["class", "support", "recall_a", "recall_b", "change"])


def _as_schema(paired: pd.DataFrame, side: str) -> pd.DataFrame:
    """One side of the paired frame in the schema's names, for dashboard.evaluate.metrics."""
    return pd.DataFrame({"source": paired["source"], "top_class": paired[f"top_{side}"],
                         "confidence": paired[f"confidence_{side}"], "ground_truth": paired["truth"],
                         "correction": None, "error": None}, index=paired.index)


def side_frame(paired: pd.DataFrame, side: str) -> pd.DataFrame:
    """Side "a" or "b" of the paired frame in the schema's names (for dashboard.evaluate.metrics and its charts)."""
    return _as_schema(paired, side)


def confusion_difference(paired: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """B's confusion matrix minus A's (true class on rows), on the images both classified with a truth."""
    confusion_a = evaluation.confusion_matrix(_as_schema(paired, "a"), order)
    confusion_b = evaluation.confusion_matrix(_as_schema(paired, "b"), order)
    return confusion_b - confusion_a


def confusion_difference_cells(difference: pd.DataFrame) -> pd.DataFrame:
    cells = [{"true": t, "predicted": p, "change": int(difference.at[t, p])}
             for t in difference.index for p in difference.columns]
    return pd.DataFrame(cells, columns=["true", "predicted", "change"])


def changed_images(paired: pd.DataFrame, *, disagreements_only: bool = False) -> pd.DataFrame:
    """Images ranked: flips first, then by Jensen–Shannon distance, then total variation, then name."""
    rows = paired[paired["flipped"]] if disagreements_only else paired
    return rows.sort_values(["flipped", "js_distance", "tv_distance", "source"],
                            ascending=[False, False, False, True], kind="stable").reset_index(drop=True)


def shift_histogram(paired: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """lower, upper, images: the histogram of `shift` (B − A probability of the true class, or of A's top
    class where the truth is unknown), over −1..1."""
    edges = np.linspace(-1.0, 1.0, bins + 1)
    counts, _ = np.histogram(paired["shift"].to_numpy(dtype=float), bins=edges)
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "images": counts.astype(int)})


def calibration(paired: pd.DataFrame, classes_by_side: dict[str, Sequence[str]],
                names: dict[str, str]) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Reliability bins of both sides (long form with a `side` column) and {side: {"ece", "brier"}}, on the
    paired images with a truth. Probabilities are the side's own over the common classes."""
    frames, scores = [], {}
    for side, label in names.items():
        classes = list(classes_by_side[side])
        frame = _as_schema(paired, side)
        for name in classes:
            frame[prob_column(name)] = paired.get(f"{prob_column(name)}_{side}", np.nan)
        bins = evaluation.reliability_bins(frame, classes).assign(side=label)
        frames.append(bins)
        scores[label] = {"ece": evaluation.expected_calibration_error(frame, classes),
                         "brier": evaluation.brier_score(frame, classes)}
    return pd.concat(frames, ignore_index=True), scores


# Error types that say the input was unusable (a corrupt file, an instance the server refused), not the server.
INPUT_ERRORS = frozenset({"ImageError", "InvalidInputError", "PayloadTooLargeError"})


def _input_error_mask(rows: pd.DataFrame) -> pd.Series:
    kinds = rows["error_type"] if "error_type" in rows else pd.Series(None, index=rows.index, dtype=object)
    return rows["error"].notna() & kinds.isin(list(INPUT_ERRORS))


def cost_row(label: str, rows: pd.DataFrame, probe: SideProbe | None) -> dict:
    """side, images, server_errors, error_rate (server errors over images), input_errors, then the side's latency
    measured on its own (dashboard.runs.latency_probe): probe_requests, p50_ms, p95_ms, p99_ms and images_per_s
    (NaN without a probe). The concurrent run's timings are never used: each side waited for the other."""
    failed = rows["error"].notna()
    input_errors = int(_input_error_mask(rows).sum())
    server_errors = int(failed.sum()) - input_errors
    timed = probe is not None and bool(probe.latencies_ms)
    p50, p95, p99 = (probe.percentile(q) for q in (50, 95, 99)) if timed else (np.nan,) * 3
    return {"side": label, "images": len(rows), "server_errors": server_errors,
            "error_rate": server_errors / len(rows) if len(rows) else np.nan, "input_errors": input_errors,
            "probe_requests": probe.requests if probe is not None else 0, "p50_ms": p50, "p95_ms": p95,
            "p99_ms": p99, "images_per_s": probe.images_per_s if timed else np.nan}


def input_errors(sides: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """side, source, error: every row whose input was unusable (INPUT_ERRORS), listed apart from server errors."""
    parts = [pd.DataFrame({"side": label, "source": rows.loc[mask, "source"].astype(str),
                           "error": rows.loc[mask, "error"].astype(str)})
             for label, rows in sides if (mask := _input_error_mask(rows)).any()]
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame({"side": [], "source": [], "error": []}, dtype=object))
