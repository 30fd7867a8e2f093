"""The decision statistics against hand-worked and published values, scipy and scikit-learn; the verdict's words."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import binomtest, norm
from sklearn.metrics import cohen_kappa_score

from client.protocol import SignatureSpec
from dashboard.compare.decision import (NOT_PROBED, ClassSetMismatch, Side, Verdict, align_classes,
                                        compare_with_baseline, decide)
from dashboard.runs.stats import (
    MAX_DISCORDANT,
    cohen_kappa,
    images_needed,
    jensen_shannon_distance,
    mcnemar_exact_p,
    newcombe_paired_interval,
    paired_bootstrap_interval,
    total_variation_distance,
)
from dashboard.compare.tables import changed_images, images_in_cell
from dashboard.runs.latency_probe import SideProbe
from dashboard.server.signatures import signature_digest, signature_rows
from tests.dashboard.compare.decision_frames import CLASSES, fixes_and_regressions, result_frame


def test_mcnemar_exact_p_on_a_hand_worked_table():
    # 5 discordant images, all fixes: P(X = 0 or X = 5 | Bin(5, 1/2)) = 2/32.
    assert mcnemar_exact_p(5, 0) == 0.0625
    assert mcnemar_exact_p(0, 5) == 0.0625
    # 1 fix and 4 regressions: 2·(1 + 5)/32.
    assert mcnemar_exact_p(1, 4) == 0.375
    assert mcnemar_exact_p(0, 0) == 1.0 and mcnemar_exact_p(3, 3) == 1.0


@pytest.mark.parametrize("fixes, regressions", [(7, 12), (0, 1), (10, 2), (30, 45), (1, 20), (60, 61)])
def test_mcnemar_exact_p_equals_scipy_binomtest(fixes, regressions):
    expected = binomtest(fixes, fixes + regressions, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact_p(fixes, regressions) == pytest.approx(expected, rel=1e-12)


def test_newcombe_interval_matches_the_published_example():
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012): table [[59, 6], [16, 80]];
    # Newcombe square-and-add: -0.0621 (95% CI -0.1186 to -0.0046) for first − second.
    # Here A is "first": B − A is the mirror image.
    interval = newcombe_paired_interval(both_right=59, a_only=6, b_only=16, both_wrong=80)
    assert round(interval.estimate, 4) == 0.0621
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0046, 0.1186)
    mirror = newcombe_paired_interval(both_right=59, a_only=16, b_only=6, both_wrong=80)
    assert (mirror.low, mirror.high) == pytest.approx((-interval.high, -interval.low))


def test_bootstrap_is_seeded():
    a = [True] * 40 + [False] * 20
    b = [True] * 30 + [False] * 10 + [True] * 15 + [False] * 5
    first, again = (paired_bootstrap_interval(a, b, seed=7) for _ in range(2))
    assert (first.low, first.high) == (again.low, again.high)
    assert first.estimate == pytest.approx((15 - 10) / 60)
    assert first.low < first.estimate < first.high


def test_bootstrap_and_newcombe_cover_a_known_difference():
    # 200 synthetic studies of 200 images: each image is a fix w.p. 0.15 and a regression w.p. 0.05, so the
    # true difference in accuracy is +0.10. A 95% interval should cover it in about 95% of the studies.
    rng = np.random.default_rng(2024)
    true_difference, n, studies = 0.10, 200, 200
    covered = {"bootstrap": 0, "newcombe": 0}
    for study in range(studies):
        outcome = rng.choice(4, size=n, p=[0.60, 0.15, 0.05, 0.20])   # both right, fix, regression, both wrong
        a = np.isin(outcome, [0, 2])
        b = np.isin(outcome, [0, 1])
        covered["bootstrap"] += paired_bootstrap_interval(a, b, seed=study, replicates=1000).covers(true_difference)
        counts = np.bincount(outcome, minlength=4)
        covered["newcombe"] += newcombe_paired_interval(counts[0], counts[2], counts[1], counts[3]).covers(
            true_difference)
    assert covered["bootstrap"] / studies >= 0.90, covered
    assert covered["newcombe"] / studies >= 0.90, covered


def test_cohen_kappa_textbook_example_and_sklearn():
    # The classic 2×2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5, κ = 0.4.
    rater_a = ["yes"] * 25 + ["no"] * 25
    rater_b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(rater_a, rater_b) == pytest.approx(0.4)
    rng = np.random.default_rng(3)
    a = rng.choice(list(CLASSES), size=300)
    b = np.where(rng.random(300) < 0.7, a, rng.choice(list(CLASSES), size=300))
    assert cohen_kappa(a.tolist(), b.tolist()) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(["cat"] * 4, ["cat"] * 4) is None   # chance agreement is 1: κ undefined


def test_images_needed_agrees_with_the_normal_approximation_where_it_holds():
    # Connor (1987): n = (z_α/2·√ψ + z_β·√(ψ − δ²))² / δ², ψ discordant share, δ difference.
    fixes, regressions, n = 10, 5, 100
    psi, delta = (fixes + regressions) / n, (fixes - regressions) / n
    connor = (norm.ppf(0.975) * math.sqrt(psi) + norm.ppf(0.8) * math.sqrt(psi - delta ** 2)) ** 2 / delta ** 2
    assert images_needed(fixes, regressions, n) == pytest.approx(connor, rel=0.10)
    # All discordant images are fixes: 5 of 60 gave p = 0.0625, so more than 60 images are needed.
    assert images_needed(5, 0, 60) > 60
    assert images_needed(4, 4, 60) is None and images_needed(0, 0, 60) is None
    # 201 fixes against 200 regressions: past MAX_DISCORDANT discordant images, it gives up rather than guess.
    assert images_needed(201, 200, 1000) is None


def test_a_tiny_difference_says_more_images_than_worth_counting():
    a, b = fixes_and_regressions(101, 100, n=600)
    decision = decide(Side(a), Side(b))
    assert decision.verdict is Verdict.NOT_ENOUGH_EVIDENCE and decision.images_needed is None
    assert decision.images_needed_text.startswith(
        f"Detecting a difference of +0.2 points would take more than {MAX_DISCORDANT * 600 // 201:,} images")


def test_distances_between_probability_vectors():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]])
    q = np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.0, 0.0, 1.0]])
    expected = [jensenshannon(x, y, base=2) for x, y in zip(p, q)]
    assert jensen_shannon_distance(p, q) == pytest.approx(expected)
    assert total_variation_distance(p, q).tolist() == pytest.approx([0.5, 0.0, 1.0])


def test_verdict_better():
    a, b = fixes_and_regressions(12, 1)
    decision = decide(Side(a), Side(b))
    interval = newcombe_paired_interval(47, 1, 12, 0)
    p = binomtest(12, 13, 0.5).pvalue
    assert decision.verdict is Verdict.BETTER
    assert decision.sentence == (
        f"B is better: +18.3 points (95% CI {interval.low * 100:+.1f} to {interval.high * 100:+.1f}), "
        f"12 fixes, 1 regression, McNemar p = {p:.4g} — significant at 0.05 on 60 images.")
    assert decision.images_needed is None


def test_verdict_worse():
    a, b = fixes_and_regressions(0, 9)
    decision = decide(Side(a), Side(b))
    assert decision.verdict is Verdict.WORSE
    assert decision.sentence.startswith("B is worse: -15.0 points (95% CI ")
    assert "0 fixes, 9 regressions, McNemar p = 0.003906 — significant at 0.05 on 60 images." in decision.sentence


def test_verdict_not_enough_evidence_says_how_many_images_would_do():
    a, b = fixes_and_regressions(5, 0)
    decision = decide(Side(a), Side(b))
    interval = newcombe_paired_interval(55, 0, 5, 0)
    assert decision.verdict is Verdict.NOT_ENOUGH_EVIDENCE
    assert decision.sentence == (
        f"Not enough evidence that B is better: +8.3 points (95% CI {interval.low * 100:+.1f} to "
        f"{interval.high * 100:+.1f}), 5 fixes, 0 regressions, McNemar p = 0.0625 — not significant at 0.05 on "
        "60 images.")
    assert decision.images_needed == images_needed(5, 0, 60) > 60
    assert decision.images_needed_text.startswith(f"About {decision.images_needed} images would be needed to "
                                                   "detect a difference of +8.3 points (estimated by the exact")
    assert decision.truth.bootstrap.estimate == pytest.approx(5 / 60)


def test_verdict_no_detectable_difference():
    decision = decide(*map(Side, fixes_and_regressions(2, 2)))
    assert decision.verdict is Verdict.NO_DIFFERENCE
    assert decision.sentence.startswith("No detectable difference: +0.0 points (95% CI ")
    assert "2 fixes, 2 regressions, McNemar p = 1 — not significant" in decision.sentence


def test_without_truth_agreement_and_kappa():
    a, b = fixes_and_regressions(5, 3, with_truth=False)
    decision = decide(Side(a), Side(b))
    kappa = cohen_kappa_score(a["top_class"], b["top_class"])
    assert decision.truth is None and decision.verdict is Verdict.NOT_ENOUGH_EVIDENCE
    assert decision.agreement.agreements == 52 and decision.agreement.kappa == pytest.approx(kappa)
    assert decision.sentence.startswith("Not enough evidence: no ground truth for the 60 images both classified; "
                                        "B agrees with A on 86.7% (95% CI ")
    assert f"Cohen's κ = {kappa:.2f}, 8 flips." in decision.sentence
    assert decision.agreement.flips_by_pair.to_dict("records") == [
        {"a_class": "dog", "b_class": "cat", "images": 5}, {"a_class": "dog", "b_class": "other", "images": 3}]


def test_errors_are_counted_and_left_out_of_paired_statistics():
    a, b = fixes_and_regressions(5, 0)
    b = result_frame(b["top_class"], b["ground_truth"], target="label:canary", version=2,
                     errors=["img/000.jpg: not an image"] + [None] * 59)
    decision = decide(Side(a), Side(b.iloc[:-1]))   # and the last image only on A's side
    assert (decision.images, decision.failed, decision.unmatched, decision.paired_images) == (60, 1, 1, 58)
    assert decision.truth.fixes == 4 and decision.truth.images == 58
    assert "1 image failed on A or B and is left out of the paired statistics." in decision.warnings
    assert "1 image was classified on one side only and left out." in decision.warnings


def test_flip_matrix_transitions_and_changed_images():
    a, b = fixes_and_regressions(3, 2)
    decision = decide(Side(a), Side(b))
    assert decision.flip_matrix.loc["dog", "cat"] == 3 and decision.flip_matrix.loc["dog", "other"] == 2
    assert int(decision.flip_matrix.to_numpy().sum()) == 60
    assert decision.truth.transitions.to_numpy().tolist() == [[55, 2], [3, 0]]
    changed = changed_images(decision.paired, disagreements_only=True)
    assert len(changed) == 5 and changed["flipped"].all()
    ranked = changed_images(decision.paired)
    assert ranked["flipped"].tolist()[:5] == [True] * 5 and not ranked["flipped"].iloc[5:].any()
    assert images_in_cell(decision.paired, "dog", "cat")["source"].tolist() == ["img/000.jpg", "img/001.jpg",
                                                                                "img/002.jpg"]
    recall = decision.truth.per_class_recall.set_index("class")
    assert recall.loc["cat", "change"] == pytest.approx(3 / 20)
    assert recall.loc["dog", "change"] == pytest.approx(-2 / 20)
    assert decision.truth.confusion_difference.loc["cat", "dog"] == -3


def test_cost_per_side_is_the_probe_alone_and_counts_server_errors_only():
    a, b = fixes_and_regressions(0, 0, n=30)
    b.loc[3, ["top_class", "confidence", "error", "error_type"]] = [None, None, "x.jpg: corrupt", "ImageError"]
    b.loc[4, ["top_class", "confidence", "error", "error_type"]] = [None, None, "503", "ServerUnavailableError"]
    probe_a = SideProbe("a", (20.0, 30.0, 40.0, 50.0))
    probe_b = SideProbe("b", (100.0, 100.0, 200.0), failures=1)
    decision = decide(Side(a, probe=probe_a), Side(b, probe=probe_b), latency_how="measured alone")
    first, second = decision.cost.iloc[0], decision.cost.iloc[1]
    # The run's own latencies (10 ms + i) are not used: each side waited for the other during the run.
    assert [first["p50_ms"], first["p95_ms"], first["p99_ms"]] == pytest.approx(
        np.percentile([20, 30, 40, 50], [50, 95, 99]))
    assert first["images_per_s"] == pytest.approx(1000 / 35) and second["images_per_s"] == pytest.approx(7.5)
    assert decision.cost["probe_requests"].tolist() == [4, 4]
    assert decision.cost["server_errors"].tolist() == [0, 1] and decision.cost["input_errors"].tolist() == [0, 1]
    assert second["error_rate"] == pytest.approx(1 / 30)        # the corrupt file is not the server's error
    assert decision.input_errors.to_dict("records") == [
        {"side": "B: label:canary", "source": "img/003.jpg", "error": "x.jpg: corrupt"}]
    assert decision.latency_how == "measured alone"
    unprobed = decide(Side(a), Side(b))
    assert unprobed.cost["p50_ms"].isna().all() and unprobed.cost["probe_requests"].tolist() == [0, 0]
    assert unprobed.latency_how == NOT_PROBED


def test_class_sets_aligned_on_common_classes_or_refused():
    common, note = align_classes(["cat", "dog", "other"], ["dog", "cat", "bird"])
    assert common == ["cat", "dog"] and "only A has other, only B has bird" in note
    with pytest.raises(ClassSetMismatch, match="no class in common"):
        align_classes(["cat"], ["car"])
    with pytest.raises(ClassSetMismatch, match="different classes"):
        align_classes(["cat", "dog"], ["cat"], policy="refuse")
    a, _ = fixes_and_regressions(0, 0, n=6)
    b = result_frame(["cat", "cat", "dog", "dog", "bird", "bird"], a["ground_truth"], classes=("cat", "dog", "bird"))
    decision = decide(Side(a), Side(b))
    assert decision.classes == ("cat", "dog") and decision.class_order == ("cat", "dog", "other", "bird")
    assert decision.flip_matrix.loc["other", "bird"] == 2 and any("common classes" in w for w in decision.warnings)


def test_same_target_same_version_and_moved_label_warnings():
    a, b = fixes_and_regressions(1, 0, n=6)
    same = decide(Side(a), Side(a))
    assert same.warnings[0] == ("A and B are the same target (label:stable): any difference between them is noise, "
                                "not a change of model.")
    one_version = decide(Side(a), Side(b.assign(version=1)))
    assert one_version.warnings[0].startswith("A (label:stable) and B (label:canary) were both answered by version 1")
    moved = decide(Side(a), Side(b, version_at_start=2, version_at_end=3))
    assert ("B (label:canary) pointed at version 2 when the run started and at version 3 when it ended: the "
            "comparison may mix versions.") in moved.warnings
    mixed = decide(Side(a), Side(b.assign(version=[1, 1, 2, 2, 2, 2])))
    assert any(w.startswith("B (label:canary) was answered by versions 1, 2") for w in mixed.warnings)


def test_each_target_compared_with_the_baseline():
    a, b = fixes_and_regressions(6, 0)
    c = b.assign(target="version:3", version=3)
    decisions = compare_with_baseline([Side(a), Side(b), Side(c)], baseline=0)
    assert [(d.a, d.b) for d in decisions] == [("label:stable", "label:canary"), ("label:stable", "version:3")]
    against_b = compare_with_baseline([Side(a), Side(b), Side(c)], baseline=1)
    assert [(d.a, d.b, d.truth.regressions) for d in against_b] == [("label:canary", "label:stable", 6),
                                                                    ("label:canary", "version:3", 0)]
    with pytest.raises(ValueError, match="at least two"):
        compare_with_baseline([Side(a)])


def _signature(shape, outputs=("probabilities",)) -> SignatureSpec:
    tensor = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": str(d)} for d in shape]}}
    return SignatureSpec.from_json("serving_default", {
        "method_name": "tensorflow/serving/predict", "inputs": {"images": tensor},
        "outputs": {name: {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}
                    for name in outputs}})


def test_signatures_side_by_side_and_digests():
    v1, v2 = _signature([-1, 128, 128, 3]), _signature([-1, 224, 224, 3], outputs=("probabilities", "logits"))
    rows = signature_rows(v1, v2, classes_a=CLASSES, classes_b=CLASSES)
    flagged = rows[rows["differs"]][["part", "name", "A", "B"]].to_dict("records")
    assert flagged == [{"part": "input", "name": "images", "A": "DT_FLOAT [-1, 128, 128, 3]",
                        "B": "DT_FLOAT [-1, 224, 224, 3]"},
                       {"part": "output", "name": "logits", "A": "—", "B": "DT_FLOAT [-1, 3]"}]
    assert not rows.set_index("part").loc["classes", "differs"]
    assert signature_digest(v1) == signature_digest(_signature([-1, 128, 128, 3]))
    assert signature_digest(v1) != signature_digest(v2) and signature_digest(v1).startswith("sha256:")
    a, b = fixes_and_regressions(0, 0, n=6)
    decision = decide(Side(a, signature=v1), Side(b, signature=v2))
    assert decision.digests == {"A": signature_digest(v1), "B": signature_digest(v2)}
    assert decision.signatures["differs"].sum() == 2


def test_the_confidence_level_is_the_one_asked_for():
    a, b = fixes_and_regressions(12, 1)
    decision = decide(Side(a), Side(b), level=0.99)
    interval = newcombe_paired_interval(47, 1, 12, 0, level=0.99)
    assert f"(99% CI {interval.low * 100:+.1f} to {interval.high * 100:+.1f})" in decision.sentence
    assert decision.truth.accuracy_a.level_text == "99% CI"
    wider = newcombe_paired_interval(47, 1, 12, 0)
    assert interval.low < wider.low and wider.high < interval.high
