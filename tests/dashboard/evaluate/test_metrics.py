"""dashboard.evaluate.metrics against numbers worked by hand and against scikit-learn/scipy computed here (test-only)."""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support

from client.schema import columns
from dashboard.evaluate import metrics as ev

CLASSES = ["cat", "dog", "other"]
# (source, truth, predicted, confidence) worked by hand below. Truth "cat" ×5, "dog" ×3, "other" ×3.
LABELLED = [("c1.jpg", "cat", "cat", 0.95), ("c2.jpg", "cat", "cat", 0.85), ("c3.jpg", "cat", "cat", 0.75),
            ("c4.jpg", "cat", "dog", 0.65), ("c5.jpg", "cat", "cat", 0.35),
            ("d1.jpg", "dog", "dog", 0.90), ("d2.jpg", "dog", "dog", 0.55), ("d3.jpg", "dog", "cat", 0.45),
            ("o1.jpg", "other", "other", 0.80), ("o2.jpg", "other", "dog", 0.70)]


def probabilities(predicted: str, truth: str | None, confidence: float) -> dict[str, float]:
    """The top class gets `confidence`; the truth (else the next class) 80% of the rest, but less than the top."""
    second = truth if truth and truth != predicted else CLASSES[(CLASSES.index(predicted) + 1) % 3]
    rest = 1 - confidence
    second_p = min(rest * 0.8, confidence - 0.01)
    probs = {name: rest - second_p for name in CLASSES}
    probs.update({predicted: confidence, second: second_p})
    return {ev.prob_column(name): p for name, p in probs.items()}


def row(source, truth, predicted, confidence, correction=None, error=None) -> dict:
    values = {"source": source, "top_class": predicted, "confidence": confidence, "ground_truth": truth,
              "correction": correction, "error": error}
    if predicted is not None:
        values.update(probabilities(predicted, correction or truth, confidence))
    return values


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = [row(*item) for item in LABELLED]
    # A correction wins over the detected truth: effective truth "other", predicted "other" -> right.
    rows.append(row("o3.jpg", "dog", "other", 0.60, correction="other"))
    rows.append(row("broken.jpg", "cat", None, None, error="broken.jpg: corrupt image"))   # outside the metrics
    rows.append(row("unlabelled.jpg", None, "dog", 0.50))                                  # outside the metrics
    return pd.DataFrame(rows).reindex(columns=columns(CLASSES))


def truth_and_predictions(frame):
    rows = ev.evaluated(frame, CLASSES)
    return rows["truth"].tolist(), rows["top_class"].tolist()


def test_effective_truth_prefers_the_correction_and_rows_outside_the_metrics_are_counted(frame):
    assert ev.effective_truth(frame).tolist()[-3:] == ["other", "cat", None]
    assert ev.correct_column(frame).tolist()[-3:] == [True, None, None]
    cover = ev.coverage(frame, CLASSES)
    assert (cover.images, cover.failed, cover.without_truth, cover.truth_not_a_class, cover.evaluated) == (
        13, 1, 1, 0, 11)
    assert cover.text() == "11 of 13 images evaluated (1 failed, 1 without ground truth)"


def test_a_truth_that_is_not_a_model_class_is_counted_not_scored(frame):
    frame.loc[frame["source"] == "unlabelled.jpg", "ground_truth"] = "hamster"
    assert ev.coverage(frame, CLASSES).truth_not_a_class == 1
    assert ev.accuracy_summary(frame, CLASSES).total == 11


def test_wilson_interval_by_hand_and_against_scipy():
    low, high = ev.wilson_interval(57, 60)
    assert (round(low, 4), round(high, 4)) == (0.8630, 0.9829)  # worked by hand: centre 0.92293, half 0.05993
    expected = binomtest(57, 60).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert ev.wilson_interval(0, 10)[0] == 0.0 and ev.wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="total must be positive"):
        ev.wilson_interval(0, 0)


def test_accuracy_summary_by_hand_and_against_sklearn(frame):
    summary = ev.accuracy_summary(frame, CLASSES)
    truth, predicted = truth_and_predictions(frame)
    assert (summary.correct, summary.total) == (8, 11)
    assert summary.value == pytest.approx(8 / 11) == accuracy_score(truth, predicted)
    # Recalls 4/5, 2/3, 2/3 -> 32/45.
    assert summary.balanced == pytest.approx(32 / 45) == balanced_accuracy_score(truth, predicted)
    assert summary.support == {"cat": 5, "dog": 3, "other": 3}
    assert summary.imbalanced  # 5 / 3 > 1.5
    assert (summary.low, summary.high) == pytest.approx(ev.wilson_interval(8, 11))
    assert (summary.value_text(), summary.count_text()) == ("72.7%", "8/11")
    assert re.fullmatch(r"95% CI \d+\.\d%–\d+\.\d%", summary.interval_text())


def test_balanced_classes_are_not_flagged_and_no_truth_gives_no_summary(frame):
    balanced = frame[~frame["source"].isin(["c1.jpg", "c2.jpg"])]   # supports 3, 3, 3
    assert not ev.accuracy_summary(balanced, CLASSES).imbalanced
    assert ev.accuracy_summary(frame.drop(columns=["ground_truth", "correction"]), CLASSES) is None


def test_confusion_matrix_by_hand_and_against_sklearn(frame):
    table = ev.confusion_matrix(frame, CLASSES)
    assert table.to_numpy().tolist() == [[4, 1, 0], [1, 2, 0], [0, 1, 2]]
    assert list(table.index) == list(table.columns) == CLASSES
    truth, predicted = truth_and_predictions(frame)
    assert (table.to_numpy() == confusion_matrix(truth, predicted, labels=CLASSES)).all()
    long = ev.confusion_long(frame, CLASSES)
    cat_row = long[long["true"] == "cat"]
    assert cat_row["count"].tolist() == [4, 1, 0]
    assert cat_row["row_share"].tolist() == pytest.approx([0.8, 0.2, 0.0])
    assert cat_row["share_text"].tolist() == ["80%", "20%", "0%"]
    assert long["count"].sum() == 11


def test_per_class_metrics_by_hand_and_against_sklearn(frame):
    metrics = ev.per_class_metrics(frame, CLASSES).set_index("class")
    assert metrics["precision"].tolist() == pytest.approx([4 / 5, 2 / 4, 2 / 2])
    assert metrics["recall"].tolist() == pytest.approx([4 / 5, 2 / 3, 2 / 3])
    assert metrics["f1"].tolist() == pytest.approx([0.8, 4 / 7, 0.8])
    assert metrics["support"].tolist() == [5, 3, 3] and metrics["predicted"].tolist() == [5, 4, 2]
    truth, predicted = truth_and_predictions(frame)
    expected = precision_recall_fscore_support(truth, predicted, labels=CLASSES, zero_division=np.nan)
    for column, values in zip(["precision", "recall", "f1", "support"], expected):
        assert metrics[column].tolist() == pytest.approx(list(values))


def test_undefined_precision_and_recall_are_nan_as_in_sklearn(frame):
    # No image is truly "other" and nothing is predicted "other": both ratios undefined, not zero.
    no_other = frame[frame["ground_truth"].ne("other") & frame["top_class"].ne("other")]
    metrics = ev.per_class_metrics(no_other, CLASSES).set_index("class")
    assert metrics.loc["other", ["precision", "recall", "f1"]].isna().all()
    truth, predicted = truth_and_predictions(no_other)
    expected = precision_recall_fscore_support(truth, predicted, labels=CLASSES, zero_division=np.nan)
    for column, values in zip(["precision", "recall", "f1"], expected):
        assert np.allclose(metrics[column].to_numpy(dtype=float), values, equal_nan=True)


def test_random_frames_match_sklearn_everywhere():
    rng = np.random.default_rng(8)
    n = 300
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    truth = rng.choice(CLASSES, size=n, p=[0.6, 0.3, 0.1])
    frame = pd.DataFrame({"source": [f"{i}.jpg" for i in range(n)],
                          "top_class": np.array(CLASSES)[probs.argmax(axis=1)], "confidence": probs.max(axis=1),
                          **{ev.prob_column(c): probs[:, i] for i, c in enumerate(CLASSES)},
                          "ground_truth": truth, "error": None})
    predicted = frame["top_class"].to_numpy()
    summary = ev.accuracy_summary(frame, CLASSES)
    assert summary.value == pytest.approx(accuracy_score(truth, predicted))
    assert summary.balanced == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert (ev.confusion_matrix(frame, CLASSES).to_numpy() == confusion_matrix(truth, predicted, labels=CLASSES)).all()
    metrics = ev.per_class_metrics(frame, CLASSES)
    for column, values in zip(["precision", "recall", "f1", "support"],
                              precision_recall_fscore_support(truth, predicted, labels=CLASSES, zero_division=np.nan)):
        assert metrics[column].tolist() == pytest.approx(list(values))
    onehot = (truth[:, None] == np.array(CLASSES)[None, :]).astype(float)
    assert ev.brier_score(frame, CLASSES) == pytest.approx(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def test_reliability_bins_and_ece_by_hand(frame):
    bins = ev.reliability_bins(frame, CLASSES)
    assert len(bins) == 10 and bins["count"].sum() == 11
    filled = bins[bins["count"] > 0]
    # Bins are (lower, upper]: 0.9 falls in (0.8, 0.9], 0.6 in (0.5, 0.6], 0.7 in (0.6, 0.7].
    assert filled["lower"].tolist() == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert filled["count"].tolist() == [1, 1, 2, 2, 2, 2, 1]
    assert filled["confidence"].tolist() == pytest.approx([0.35, 0.45, 0.575, 0.675, 0.775, 0.875, 0.95])
    assert filled["accuracy"].tolist() == pytest.approx([1, 0, 1, 0, 1, 1, 1])
    assert bins.loc[bins["count"] == 0, ["confidence", "accuracy"]].isna().all().all()
    # (0.65 + 0.45 + 2·0.425 + 2·0.675 + 2·0.225 + 2·0.125 + 0.05) / 11
    assert ev.expected_calibration_error(frame, CLASSES) == pytest.approx(4.05 / 11)


def test_brier_score_by_hand():
    frame = pd.DataFrame([
        {"source": "a", "top_class": "cat", "confidence": 0.7, "prob_cat": 0.7, "prob_dog": 0.2, "prob_other": 0.1,
         "ground_truth": "cat"},   # 0.3² + 0.2² + 0.1² = 0.14
        {"source": "b", "top_class": "cat", "confidence": 0.6, "prob_cat": 0.6, "prob_dog": 0.3, "prob_other": 0.1,
         "ground_truth": "dog"}])  # 0.6² + 0.7² + 0.1² = 0.86
    assert ev.brier_score(frame, CLASSES) == pytest.approx(0.5)
    assert math.isnan(ev.brier_score(frame.drop(columns=["ground_truth"]), CLASSES))


def test_mistakes_most_confident_first_and_cell_images(frame):
    assert ev.mistakes(frame, CLASSES)["source"].tolist() == ["o2.jpg", "c4.jpg", "d3.jpg"]  # 0.70, 0.65, 0.45
    assert ev.cell_images(frame, CLASSES, "cat", "cat")["source"].tolist() == ["c1.jpg", "c2.jpg", "c3.jpg", "c5.jpg"]
    assert ev.cell_images(frame, CLASSES, "other", "dog")["source"].tolist() == ["o2.jpg"]
    assert ev.cell_images(frame, CLASSES, "dog", "other").empty


def test_confidence_histogram_splits_right_wrong_and_unlabelled(frame):
    histogram = ev.confidence_histogram(frame, CLASSES)
    totals = histogram.groupby("outcome")["count"].sum().to_dict()
    assert totals == {"right": 8, "wrong": 3, "no ground truth": 1}
    in_bin = histogram[np.isclose(histogram["lower"], 0.6)]
    assert in_bin[["outcome", "count"]].values.tolist() == [["wrong", 2]]   # 0.65 and 0.70
    unlabelled = histogram[histogram["outcome"] == "no ground truth"]
    assert unlabelled[["lower", "upper"]].to_numpy().ravel().tolist() == pytest.approx([0.4, 0.5])


def test_review_queue_least_confident_first_with_the_top_two_classes(frame):
    queue = ev.review_queue(frame, CLASSES, threshold=0.6)
    # Strictly below 0.6; the failed row has no confidence and is not queued.
    assert queue["source"].tolist() == ["c5.jpg", "d3.jpg", "unlabelled.jpg", "d2.jpg"]
    first = queue.iloc[1]   # predicted cat at 0.45, truly dog, which got 0.8 of the remaining 0.55
    assert (first["first"], first["second"], first["truth"]) == ("cat", "dog", "dog")
    assert (first["first_p"], first["second_p"]) == pytest.approx((0.45, 0.44))
    assert ev.review_queue(frame, CLASSES, threshold=0.0).empty
    assert len(ev.review_queue(frame, CLASSES, threshold=1.01)) == 12


def test_accuracy_coverage_by_hand(frame):
    curve = ev.accuracy_coverage(frame, CLASSES).set_index("threshold")
    at = curve.loc[0.7]   # kept: 0.95 0.85 0.75 0.90 0.80 (right) and 0.70 (wrong)
    assert (at["kept"], at["coverage"], at["accuracy"]) == pytest.approx((6, 6 / 11, 5 / 6))
    assert (curve.loc[0.0, "coverage"], curve.loc[0.0, "accuracy"]) == pytest.approx((1.0, 8 / 11))
    assert curve.loc[1.0, "kept"] == 0 and math.isnan(curve.loc[1.0, "accuracy"])
    assert len(curve) == 101


def test_filters_combine(frame):
    def sources(**filters):
        return ev.filter_results(frame, **filters)["source"].tolist()
    assert sources(classes=["other"]) == ["o1.jpg", "o3.jpg"]
    assert sources(errors_only=True) == ["broken.jpg"]
    assert sources(wrong_only=True) == ["c4.jpg", "d3.jpg", "o2.jpg"]
    assert sources(confidence_range=(0.7, 0.8)) == ["c3.jpg", "o1.jpg", "o2.jpg"]
    assert sources(review_below=0.5) == ["c5.jpg", "d3.jpg"]
    assert sources(classes=["dog"], wrong_only=True) == ["c4.jpg", "o2.jpg"]
    assert len(sources()) == 13


def test_a_correction_moves_accuracy_by_exactly_one_image(frame):
    before = ev.accuracy_summary(frame, CLASSES)
    fixed = ev.apply_correction(frame, "c4.jpg", "dog", CLASSES)      # was wrong, truth now agrees
    after = ev.accuracy_summary(fixed, CLASSES)
    assert (after.correct, after.total) == (before.correct + 1, before.total)
    added = ev.apply_correction(fixed, "unlabelled.jpg", "cat", CLASSES)   # had no truth: one more, wrong
    assert (ev.accuracy_summary(added, CLASSES).correct, ev.accuracy_summary(added, CLASSES).total) == (
        after.correct, after.total + 1)
    row_after = fixed.loc[fixed["source"] == "c4.jpg"].iloc[0]
    assert (row_after["correction"], row_after["correct"]) == ("dog", True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row_after["corrected_at"])
    assert frame.loc[frame["source"] == "c4.jpg", "correction"].isna().all()   # the input frame is untouched


def test_clearing_a_correction_restores_the_detected_truth(frame):
    cleared = ev.apply_correction(frame, "o3.jpg", None, CLASSES)
    row_after = cleared.loc[cleared["source"] == "o3.jpg"].iloc[0]
    assert (row_after["correction"], row_after["corrected_at"], row_after["correct"]) == (None, None, False)
    assert ev.accuracy_summary(cleared, CLASSES).correct == ev.accuracy_summary(frame, CLASSES).correct - 1


def test_bad_corrections_name_the_file_and_the_value(frame):
    with pytest.raises(ValueError, match=r"'c4.jpg': 'hamster' is not one of the model's classes"):
        ev.apply_correction(frame, "c4.jpg", "hamster", CLASSES)
    with pytest.raises(ValueError, match=r"no result row has source 'nope.jpg'"):
        ev.apply_correction(frame, "nope.jpg", "cat", CLASSES)
