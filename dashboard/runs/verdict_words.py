"""The verdict in words: the plain-language sentence an analyst can forward (plain_verdict) and the statistics
sentence beneath it (verdict_sentence). Pure text from a decision's numbers; no streamlit. Compare's decision
(dashboard.compare.decision, whose TruthStats and AgreementStats these read) and History (dashboard.runs.verdicts)
use them."""
from __future__ import annotations

from enum import Enum
from typing import Any

TruthStats = AgreementStats = Any   # dashboard.compare.decision's records (read by attribute)


class Verdict(str, Enum):
    BETTER = "better"
    WORSE = "worse"
    NO_DIFFERENCE = "no detectable difference"
    NOT_ENOUGH_EVIDENCE = "not enough evidence"


def format_p(p: float) -> str:
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.4g}"


def points(value: float) -> str:
    """A difference of proportions in signed points: 0.07 -> "+7.0"."""
    return f"{value * 100:+.1f}"


def count_of(n: int, word: str) -> str:
    """"1 fix", "5 fixes", "2 images"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('x') else 's'}"


def verdict_sentence(verdict: Verdict, stats: TruthStats, alpha: float) -> str:
    """"B is better: +8.3 points (95% CI +1.2 to +15.0), 5 fixes, 0 regressions, McNemar p = 0.0625 —
    not significant at 0.05 on 60 images"."""
    d = stats.difference
    lead = {Verdict.BETTER: "B is better", Verdict.WORSE: "B is worse",
            Verdict.NO_DIFFERENCE: "No detectable difference",
            Verdict.NOT_ENOUGH_EVIDENCE: f"Not enough evidence that B is {'better' if d.estimate > 0 else 'worse'}",
            }[verdict]
    significance = "significant" if stats.mcnemar_p < alpha else "not significant"
    return (f"{lead}: {points(d.estimate)} points ({d.level_text} {points(d.low)} to {points(d.high)}), "
            f"{count_of(stats.fixes, 'fix')}, {count_of(stats.regressions, 'regression')}, McNemar "
            f"{format_p(stats.mcnemar_p)} — {significance} at {alpha:g} on {count_of(stats.images, 'image')}.")


def _images(n: int) -> str:
    return f"{n:,} image" if n == 1 else f"{n:,} images"


def _none_or(n: int, with_word: bool) -> str:
    if not n:
        return "none"
    return _images(n) if with_word else f"{n:,}"


def settle_text(images_needed: int | None, have: int, most: int | None) -> str:
    """What would settle an open question: "≈ 40 more labelled images would settle it". `images_needed`: in all
    (dashboard.runs.stats.images_needed); `most`: the bound it gave up at, when it did."""
    if images_needed is None:
        return (f"only far more labelled images (over {most:,} in all) would settle it" if most
                else "more labelled images would settle it")
    more = images_needed - have
    return (f"≈ {more:,} more labelled images would settle it" if more > 0
            else "a rerun on more labelled images would settle it")


def plain_verdict(verdict: Verdict, a: str, b: str, stats: TruthStats | None, agreement: AgreementStats | None,
                  *, images_needed: int | None = None, most: int | None = None) -> str:
    """One sentence an analyst can forward: promote B, keep A, or no clear difference, with the fixes, the breaks
    and the accuracy change with its plausible range ("Promote label:canary: it fixes 7 images and breaks none on
    100 labelled images; the accuracy gain is +7.0 points, plausibly between +1.6 and +13.8."). When the evidence
    is not enough it says what would settle it (see settle_text); without ground truth it speaks of agreement
    only."""
    if stats is None:
        if agreement is None:
            return f"No verdict: no image was classified without error by both {a} and {b}."
        r = agreement.rate
        return (f"No verdict on accuracy (no ground truth, so this speaks of agreement only): {b} gives the same "
                f"top class as {a} on {agreement.agreements:,} of {_images(agreement.images)} ({r.estimate:.1%}, "
                f"plausibly between {r.low:.1%} and {r.high:.1%}); label the images to learn which one is right.")
    d = stats.difference
    on = f"on {stats.images:,} labelled images"
    plausibly = f"plausibly between {points(d.low)} and {points(d.high)}"
    fixes_first = f"fixes {_none_or(stats.fixes, True)} and breaks {_none_or(stats.regressions, False)} {on}"
    if verdict is Verdict.BETTER:
        return f"Promote {b}: it {fixes_first}; the accuracy gain is {points(d.estimate)} points, {plausibly}."
    if verdict is Verdict.WORSE:
        return (f"Keep {a}: {b} breaks {_none_or(stats.regressions, True)} and fixes {_none_or(stats.fixes, False)} "
                f"{on}; the accuracy change is {points(d.estimate)} points, {plausibly}.")
    if verdict is Verdict.NO_DIFFERENCE:
        return (f"No clear difference between {a} and {b}: {b} {fixes_first}; the accuracy change is "
                f"{points(d.estimate)} points, {plausibly}.")
    return (f"Keep {a} for now: {b} {fixes_first} ({points(d.estimate)} points, {plausibly}), too few to tell "
            f"from chance; {settle_text(images_needed, stats.images, most)}.")
