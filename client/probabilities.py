"""Is a predict answer's probabilities output a probability distribution?

The output a ClassifyPlan reads as probabilities (client.plan) must hold, for each input, finite numbers in [0, 1]
that sum to 1 within PROBABILITY_TOLERANCE (0.001: float32 softmax rounding is far below it). Otherwise that
input's row is an InvalidProbabilitiesError naming the file and what is wrong, never a classified result; the
other inputs of the batch are unaffected. TF Serving's REST API writes NaN and infinities as the JSON tokens
NaN, Infinity and -Infinity, which Python's json module reads as floats, so they reach this check.

An output is read as logits (softmax applied) or as sigmoid scores only when a model profile says so, or, for a
sigmoid, when one unit meets two class names (client.readout); an output read as probabilities is always checked.
"""
from __future__ import annotations

import math
from typing import Mapping

__all__ = ["PROBABILITY_TOLERANCE", "distribution_problem", "value_problem"]

PROBABILITY_TOLERANCE = 1e-3


def _name(label: str) -> str:
    shown = repr(label)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def value_problem(scores: Mapping[str, float], tolerance: float = PROBABILITY_TOLERANCE) -> str | None:
    """The first value of `scores` (class -> value) that is NaN or infinite, negative, or above 1 + tolerance,
    described; None when every value is a probability. (Independent sigmoid scores are held to this only.)"""
    for label, value in scores.items():
        if math.isnan(value):
            return f"{_name(label)} is NaN"
        if math.isinf(value):
            return f"{_name(label)} is {'Infinity' if value > 0 else '-Infinity'}"
        if value < 0:
            return f"{_name(label)} is negative ({value:g})"
        if value > 1 + tolerance:
            return f"{_name(label)} is above 1 ({value:g})"
    return None


def distribution_problem(probabilities: Mapping[str, float], tolerance: float = PROBABILITY_TOLERANCE) -> str | None:
    """What makes `probabilities` (class -> value) not a distribution, or None when it is one.

    The first problem found, in this order: a value that is NaN or infinite, negative, or above 1 + tolerance
    (value_problem); then a sum farther than `tolerance` from 1.
    """
    problem = value_problem(probabilities, tolerance)
    if problem is not None:
        return problem
    total = math.fsum(probabilities.values())
    if abs(total - 1.0) > tolerance:
        return f"they sum to {total:g}, not 1 (tolerance {tolerance:g})"
    return None
