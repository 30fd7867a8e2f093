"""Scores and ranking of the skew finder: accuracy with its Wilson interval and the log loss with ground truth,
McNemar against the most accurate, presets before grid combinations within noise; confidence and entropy without."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from client import schema
from dashboard.skew.ranking import LOG_FLOOR, rank, score_rows

CLASSES = ("cat", "dog")


def rows(tops: list[str | None], probability: float = 0.9) -> pd.DataFrame:
    """One row per image img<i>: the top class at `probability` (None: a failed image)."""
    found = []
    for index, top in enumerate(tops):
        probabilities = {} if top is None else {top: probability, ({*CLASSES} - {top}).pop(): 1 - probability}
        found.append({"source": f"img{index}", "top_class": top,
                      "confidence": max(probabilities.values(), default=None),
                      **{schema.prob_column(c): probabilities.get(c) for c in CLASSES},
                      "error": None if top is not None else "ImageError: broken"})
    return pd.DataFrame(found)


TRUTH = {f"img{i}": "cat" for i in range(10)}


def test_accuracy_wilson_interval_and_log_loss_count_a_failed_image_as_wrong():
    score = score_rows(rows(["cat"] * 8 + ["dog", None]), TRUTH)
    assert (score.images, score.errors, score.labelled, score.correct) == (10, 1, 10, 8)
    # Wilson 95% for 8/10, by hand: centre (8 + 1.92)/13.84, half-width 1.96·√(1.6 + 0.96)/13.84.
    assert score.accuracy.estimate == 0.8
    assert score.accuracy.low == pytest.approx(0.4902, abs=1e-4)
    assert score.accuracy.high == pytest.approx(0.9433, abs=1e-4)
    expected = (8 * -math.log(0.9) - math.log(0.1) - math.log(LOG_FLOOR)) / 10
    assert score.log_loss == pytest.approx(expected, rel=1e-12)
    assert score.confidence == pytest.approx(0.9) and score.entropy == pytest.approx(
        -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2))


def test_a_set_of_right_classes_counts_any_of_them():
    score = score_rows(rows(["cat", "dog", "dog"]), {"img0": {"cat", "lion"}, "img1": {"dog"}, "img2": "cat"})
    assert (score.labelled, score.correct) == (3, 2)
    assert score.right == {"img0": True, "img1": True, "img2": False}


def test_within_noise_presets_come_before_a_slightly_more_accurate_grid_combination():
    entries = {"grid9": rows(["cat"] * 9 + ["dog"]), "preset8": rows(["cat"] * 8 + ["dog"] * 2),
               "preset2": rows(["cat"] * 2 + ["dog"] * 8), "grid8": rows(["cat"] * 8 + ["dog"] * 2, 0.6)}
    named = {"preset8", "preset2"}
    ranked = rank(list(entries), lambda name: score_rows(entries[name], TRUTH), lambda name: name in named)
    assert [r.entry for r in ranked] == ["preset8", "grid9", "grid8", "preset2"]
    assert [r.close_to_best for r in ranked] == [True, True, True, False]
    # Against grid9 (the most accurate): preset8 is right on 8 of its 9, wrong on none it gets right.
    assert ranked[0].p_vs_best == binomtest(0, 1, 0.5).pvalue == 1.0
    assert ranked[1].p_vs_best is None
    assert ranked[3].p_vs_best == pytest.approx(binomtest(0, 7, 0.5).pvalue, rel=1e-12)   # 0.015625


def test_without_truth_confidence_then_entropy_and_the_order_given_for_ties():
    entries = {"a": rows(["cat", "dog"], 0.7), "b": rows(["cat", "dog"], 0.95), "c": rows(["cat", "dog"], 0.7)}
    ranked = rank(list(entries), lambda name: score_rows(entries[name]), lambda name: True)
    assert [r.entry for r in ranked] == ["b", "a", "c"]
    assert [r.p_vs_best for r in ranked] == [None, None, None]
    assert ranked[0].score.accuracy is None and ranked[0].score.confidence == pytest.approx(0.95)
