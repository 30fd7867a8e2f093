"""History's verdict per comparison (dashboard.runs.verdicts) is Compare's: the same rule on the same pairing."""
from __future__ import annotations

import pytest

from dashboard.compare.decision import Side, decide
from dashboard.runs.verdict_words import Verdict
from dashboard.runs.verdicts import comparison_verdict, paired_counts, short_verdict
from tests.dashboard.compare.decision_frames import fixes_and_regressions

LEADS = {Verdict.BETTER: "Promote B", Verdict.WORSE: "Keep A", Verdict.NO_DIFFERENCE: "No clear difference",
         Verdict.NOT_ENOUGH_EVIDENCE: "Not enough evidence yet"}


@pytest.mark.parametrize("fixes, regressions", [(12, 1), (1, 12), (5, 0), (3, 3), (0, 0), (7, 2), (20, 0)])
def test_the_short_verdict_is_the_decision_s(fixes, regressions):
    a, b = fixes_and_regressions(fixes, regressions)
    decision = decide(Side(a), Side(b))
    text = comparison_verdict([a, b])
    fixes_text = f"{fixes} fix" + ("" if fixes == 1 else "es")
    breaks_text = f"{regressions} break" + ("" if regressions == 1 else "s")
    assert text == (f"{LEADS[decision.verdict]}: {decision.truth.difference.estimate * 100:+.1f} points, "
                    f"{fixes_text}, {breaks_text} on 60 images")


def test_corrections_count_as_truth_and_sides_without_truth_or_classes_say_why():
    a, b = fixes_and_regressions(12, 1)
    # A's 12 "mistakes" were right after all: B's 12 fixes become breaks, beside its one break.
    corrected = a.assign(correction=["dog"] * 12 + [None] * 48)
    assert comparison_verdict([corrected, b.assign(correction=corrected["correction"])]) == (
        "Keep A: -21.7 points, 0 fixes, 13 breaks on 60 images")
    a, b = fixes_and_regressions(2, 0, with_truth=False)
    assert comparison_verdict([a, b]) == "no verdict (no ground truth): 96.7% agreement"
    cars = b.rename(columns={c: c.replace("prob_", "prob_car_") for c in b.columns if c.startswith("prob_")})
    assert paired_counts(a, cars) is None and short_verdict(None) == "no verdict: no class in common"


def test_three_sides_each_against_the_baseline():
    a, b = fixes_and_regressions(12, 1)
    assert comparison_verdict([a, b, a]) == ("B: Promote B: +18.3 points, 12 fixes, 1 break on 60 images; "
                                             "C: No clear difference: +0.0 points, 0 fixes, 0 breaks on 60 images")
    assert comparison_verdict([a]) == ""
