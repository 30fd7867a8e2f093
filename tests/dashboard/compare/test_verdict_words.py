"""The plain-language verdict, word for word, for each verdict on small constructed decisions."""
from __future__ import annotations

from dashboard.compare.decision import Side, Verdict, decide
from dashboard.runs.stats import newcombe_paired_interval
from dashboard.runs.verdict_words import settle_text
from tests.dashboard.compare.decision_frames import fixes_and_regressions, result_frame


def decided(fixes: int, regressions: int, **options):
    return decide(*map(Side, fixes_and_regressions(fixes, regressions, **options)))


def test_promote_names_fixes_breaks_and_the_plausible_gain():
    d = decided(12, 1)
    assert d.verdict is Verdict.BETTER
    # 60 images: 47 both right, 1 regression, 12 fixes, 0 both wrong.
    interval = newcombe_paired_interval(47, 1, 12, 0)
    assert (f"{interval.low * 100:+.1f}", f"{interval.high * 100:+.1f}") == ("+7.1", "+30.3")
    assert d.headline == ("Promote label:canary: it fixes 12 images and breaks 1 on 60 labelled images; the accuracy "
                          "gain is +18.3 points, plausibly between +7.1 and +30.3.")


def test_worse_keeps_the_current_version():
    d = decided(0, 9)
    assert d.verdict is Verdict.WORSE
    assert d.headline == ("Keep label:stable: label:canary breaks 9 images and fixes none on 60 labelled images; the "
                          "accuracy change is -15.0 points, plausibly between -26.1 and -5.8.")


def test_no_clear_difference():
    d = decided(2, 2)
    assert d.verdict is Verdict.NO_DIFFERENCE
    assert d.headline == ("No clear difference between label:stable and label:canary: label:canary fixes 2 images and "
                          "breaks 2 on 60 labelled images; the accuracy change is +0.0 points, plausibly between "
                          "-8.5 and +8.5.")


def test_not_enough_evidence_says_how_many_more_images_would_settle_it():
    d = decided(5, 0)
    assert d.verdict is Verdict.NOT_ENOUGH_EVIDENCE and d.images_needed == 72
    assert d.headline == ("Keep label:stable for now: label:canary fixes 5 images and breaks none on 60 labelled "
                          "images (+8.3 points, plausibly between +0.7 and +18.1), too few to tell from chance; "
                          "≈ 12 more labelled images would settle it.")


def test_one_fix_is_one_image():
    d = decided(1, 0)
    assert d.headline.startswith("Keep label:stable for now: label:canary fixes 1 image and breaks none on 60 "
                                 "labelled images (+1.7 points, plausibly between ")


def test_without_ground_truth_it_speaks_of_agreement_only():
    d = decided(5, 3, with_truth=False)
    assert d.headline == ("No verdict on accuracy (no ground truth, so this speaks of agreement only): label:canary "
                          "gives the same top class as label:stable on 52 of 60 images (86.7%, plausibly between "
                          "75.8% and 93.1%); label the images to learn which one is right.")


def test_nothing_classified_by_both():
    a = result_frame(["cat"], ["cat"], errors=["broken"])
    b = result_frame(["cat"], ["cat"], target="label:canary", version=2)
    assert decide(Side(a), Side(b)).headline == ("No verdict: no image was classified without error by both "
                                                 "label:stable and label:canary.")


def test_settle_text_when_the_estimate_is_not_above_what_there_is_or_gave_up():
    assert settle_text(72, 60, None) == "≈ 12 more labelled images would settle it"
    assert settle_text(1_060, 60, None) == "≈ 1,000 more labelled images would settle it"
    assert settle_text(50, 60, None) == "a rerun on more labelled images would settle it"
    assert settle_text(None, 60, 400_000) == "only far more labelled images (over 400,000 in all) would settle it"
