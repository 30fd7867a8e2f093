"""Two runs over the same images paired row by row, each image judged right or wrong against the truth in effect.
Compare's decision (dashboard.compare.decision) and History's verdict per comparison (dashboard.runs.verdicts) both
start here. Pure (no streamlit).

The paired frame has one row per image both sides classified: source, truth (None when unknown), top_a,
top_b, confidence_a, confidence_b, correct_a, correct_b (None without truth), flipped, transition,
js_distance, tv_distance, shift, shift_class and prob_<class>_a / prob_<class>_b for the common classes.
The effective truth is the analyst's `correction` when set, else `ground_truth` (client.schema.effective_truth).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from client import schema
from client.schema import prob_column
from dashboard.runs.stats import jensen_shannon_distance, total_variation_distance

__all__ = ["FIX", "REGRESSION", "BOTH_RIGHT", "BOTH_WRONG", "NO_TRUTH", "RIGHT", "WRONG", "column_or_none",
           "effective_truth", "transition", "pair_rows"]


def column_or_none(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as objects with None for missing (absent columns read as all None)."""
    if name not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    column = frame[name].astype(object)
    return column.where(column.notna(), None)


def effective_truth(frame: pd.DataFrame) -> pd.Series:
    """Per row, schema.effective_truth: `correction` when set, else `ground_truth`, else None."""
    pairs = list(zip(column_or_none(frame, "correction"), column_or_none(frame, "ground_truth")))
    # Decided once per distinct pair: a run has few, and per-row dict records are slow on large runs.
    decided = {pair: schema.effective_truth({"correction": pair[0], "ground_truth": pair[1]}) for pair in set(pairs)}
    return pd.Series([decided[pair] for pair in pairs], index=frame.index, dtype=object)


FIX, REGRESSION, BOTH_RIGHT, BOTH_WRONG, NO_TRUTH = "fix", "regression", "both right", "both wrong", "no truth"
RIGHT, WRONG = "right", "wrong"


def transition(correct_a: object, correct_b: object) -> str:
    if correct_a is None or correct_b is None:
        return NO_TRUTH
    if correct_a and correct_b:
        return BOTH_RIGHT
    if not correct_a and not correct_b:
        return BOTH_WRONG
    return FIX if correct_b else REGRESSION


def _with_truth(rows: pd.DataFrame, classes: set[str]) -> pd.DataFrame:
    rows = rows.reset_index(drop=True)
    truth = effective_truth(rows)
    # A repeated name (two archives with the same member) pairs by occurrence, not as a cross product.
    key = rows["source"].astype(str) + "\x00" + rows.groupby("source").cumcount().astype(str)
    return rows.assign(_truth=truth.where(truth.isin(list(classes)), None), _key=key)


def pair_rows(rows_a: pd.DataFrame, rows_b: pd.DataFrame, common: Sequence[str],
              known: Sequence[str]) -> tuple[pd.DataFrame, int, int, int]:
    """The paired frame (see the module's docstring) and the counts: failed on either side, on one side only,
    distinct images. `common`: classes whose probabilities are compared; `known`: classes a truth may take."""
    merged = _with_truth(rows_a, set(known)).merge(_with_truth(rows_b, set(known)), on="_key", how="outer",
                                                    suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    failed = (both["error_a"].notna() | both["error_b"].notna() | both["top_class_a"].isna()
              | both["top_class_b"].isna())
    ok = both[~failed]
    truth = ok["_truth_a"].where(ok["_truth_a"].notna(), ok["_truth_b"])
    truth = truth.astype(object).where(truth.notna(), None)
    paired = pd.DataFrame({"source": ok["source_a"], "truth": truth, "top_a": ok["top_class_a"],
                           "top_b": ok["top_class_b"], "confidence_a": ok["confidence_a"].astype(float),
                           "confidence_b": ok["confidence_b"].astype(float)}).reset_index(drop=True)
    for side in ("a", "b"):
        right = [None if t is None else bool(p == t) for p, t in zip(paired[f"top_{side}"], paired["truth"])]
        paired[f"correct_{side}"] = pd.Series(right, dtype=object)
    paired["flipped"] = (paired["top_a"] != paired["top_b"]).astype(bool)
    paired["transition"] = [transition(x, y) for x, y in zip(paired["correct_a"], paired["correct_b"])]
    probs = {side: np.nan_to_num(ok[[f"{prob_column(c)}_{side}" for c in common]].to_numpy(dtype=float))
             for side in ("a", "b")}
    for i, name in enumerate(common):
        paired[f"{prob_column(name)}_a"], paired[f"{prob_column(name)}_b"] = probs["a"][:, i], probs["b"][:, i]
    paired["js_distance"] = jensen_shannon_distance(probs["a"], probs["b"]) if len(ok) else []
    paired["tv_distance"] = total_variation_distance(probs["a"], probs["b"]) if len(ok) else []
    # The shift of the true class's probability; A's top class stands in where the truth is unknown.
    basis = [t if t in common else (p if p in common else None) for t, p in zip(paired["truth"], paired["top_a"])]
    paired["shift_class"] = basis
    index = {name: i for i, name in enumerate(common)}
    paired["shift"] = [probs["b"][r, index[c]] - probs["a"][r, index[c]] if c is not None else np.nan
                       for r, c in enumerate(basis)]
    return paired, int(failed.sum()), int((merged["_merge"] != "both").sum()), len(merged)
