"""How well each tried preparation fits: scores from its result rows, and the ranking. Pure: no streamlit.

With ground truth (source -> the true class, or a set of classes any of which is right): accuracy over the
labelled images sent, with its Wilson interval (an image that failed counts as wrong: a preparation the model
cannot answer does not fit), and the log loss, the mean -ln p(true class) (p floored at LOG_FLOOR; a failed
image counts at the floor). Accuracy differences of a few images are noise, so the ranking puts first every
preparation whose accuracy is not significantly below the most accurate one's (McNemar's exact test on the
paired images, p >= alpha, dashboard.runs.stats); among those, the named ones (presets and the session's own
profile: the conventions models are exported with) before grid combinations, then by accuracy, then by log
loss. The others follow by accuracy, then log loss.

Without ground truth there is nothing to be right about, and the ranking is a heuristic: mean top-class
confidence (higher first), then mean entropy of the distribution (normalised to 0..1, lower first). A
preparation far from the model's training can make it more confident, not less; the page says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Collection, Generic, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd

from client import schema
from dashboard.runs.stats import Interval, mcnemar_exact_p, wilson_interval

__all__ = ["LOG_FLOOR", "Ranked", "Score", "Truth", "rank", "score_rows", "truth_class"]

LOG_FLOOR = 1e-6
Truth = Mapping[str, "str | Collection[str]"]   # source -> true class, or the classes any of which is right
T = TypeVar("T")


def truth_class(value: str | Collection[str] | None) -> str | None:
    """The one class a truth value names (for a result row's ground_truth); None for a set of several."""
    if value is None or isinstance(value, str):
        return value
    names = list(value)
    return names[0] if len(names) == 1 else None


def _right(top: object, value: str | Collection[str]) -> bool:
    if schema.is_missing(top):
        return False
    return str(top) == value if isinstance(value, str) else str(top) in value


@dataclass(frozen=True)
class Score:
    """What one preparation did on the sample. `right`: source -> whether it was right, for the labelled images
    (for pairing with another preparation)."""

    images: int
    errors: int
    labelled: int = 0
    correct: int = 0
    accuracy: Interval | None = None
    log_loss: float | None = None
    confidence: float | None = None     # mean top-class confidence of the images answered
    entropy: float | None = None        # mean normalised entropy (0 certain .. 1 uniform) of those
    right: Mapping[str, bool] = field(default_factory=dict, compare=False, repr=False)


def score_rows(rows: pd.DataFrame, truth: Truth | None = None, *, level: float = 0.95) -> Score:
    """The Score of one preparation's rows (client.schema's columns, one row per image sent)."""
    classes = schema.class_names_of(rows.columns)
    answered = rows[rows["error"].isna()] if "error" in rows else rows
    confidence = float(answered["confidence"].mean()) if len(answered) else None
    entropy = None
    if len(answered) and len(classes) > 1:
        p = answered[[schema.prob_column(c) for c in classes]].to_numpy(dtype=float)
        totals = p.sum(axis=1)
        if np.allclose(totals, 1.0, atol=1e-3):   # independent sigmoid scores have no entropy
            q = np.clip(p, 1e-12, 1.0)
            entropy = float((-(q * np.log(q)).sum(axis=1) / math.log(len(classes))).mean())
    errors = len(rows) - len(answered)
    if not truth:
        return Score(len(rows), errors, confidence=confidence, entropy=entropy)
    right: dict[str, bool] = {}
    losses = []
    for row in rows.to_dict("records"):
        value = truth.get(str(row["source"]))
        if value is None:
            continue
        right[str(row["source"])] = _right(row.get("top_class"), value)
        names = [value] if isinstance(value, str) else list(value)
        p = sum(float(row.get(schema.prob_column(n)) or 0.0) for n in names if schema.prob_column(n) in row)
        losses.append(-math.log(max(p if not math.isnan(p) else 0.0, LOG_FLOOR)))
    correct = sum(right.values())
    return Score(len(rows), errors, labelled=len(right), correct=correct,
                 accuracy=wilson_interval(correct, len(right), level) if right else None,
                 log_loss=float(np.mean(losses)) if losses else None, confidence=confidence, entropy=entropy,
                 right=right)


@dataclass(frozen=True)
class Ranked(Generic[T]):
    """One entry in ranked order. `p_vs_best`: McNemar's exact p of this entry against the most accurate one
    (None without truth, and for that one itself); `close_to_best`: not significantly less accurate than it."""

    entry: T
    score: Score
    p_vs_best: float | None
    close_to_best: bool


def _mcnemar(best: Score, other: Score) -> float:
    shared = set(best.right) & set(other.right)
    best_only = sum(best.right[s] and not other.right[s] for s in shared)
    other_only = sum(other.right[s] and not best.right[s] for s in shared)
    return mcnemar_exact_p(other_only, best_only)


def _number(value: float | None, missing: float) -> float:
    return missing if value is None or math.isnan(value) else value


def rank(entries: Sequence[T], score_of: Callable[[T], Score], named: Callable[[T], bool], *,
         alpha: float = 0.05) -> list[Ranked[T]]:
    """`entries` best first (see the module docstring); ties keep their given order."""
    scored = [(index, entry, score_of(entry)) for index, entry in enumerate(entries)]
    with_truth = any(score.labelled for _, _, score in scored)
    if not with_truth:
        order = sorted(scored, key=lambda item: (-_number(item[2].confidence, -1.0),
                                                 _number(item[2].entropy, 2.0), item[0]))
        return [Ranked(entry, score, None, False) for _, entry, score in order]

    def merit(item: tuple) -> tuple:
        score = item[2]
        return (-(score.accuracy.estimate if score.accuracy else -1.0), _number(score.log_loss, math.inf), item[0])

    best_index, _, best = min(scored, key=merit)
    p_values = {index: None if index == best_index else _mcnemar(best, score) for index, _, score in scored}
    close = {index: index == best_index or p_values[index] >= alpha for index, _, _ in scored}
    order = sorted(scored, key=lambda item: (not close[item[0]], not (close[item[0]] and named(item[1])),
                                             *merit(item)))
    return [Ranked(entry, score, p_values[index], close[index]) for index, entry, score in order]
