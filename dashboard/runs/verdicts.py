"""Should B replace A: the verdict rule, and the short verdict History shows in a comparison's row.

The rule (verdict_of) is the one Compare's decision applies (dashboard.compare.decision): better or worse only when
McNemar's exact test gives p < alpha; otherwise no difference when fixes equal regressions or Newcombe's interval
lies within ± the equivalence margin, else not enough evidence. History's verdict (comparison_verdict) pairs the
two stored runs as Compare does (dashboard.runs.pairing) with Compare's defaults: the stored baseline as A, classes
aligned on the common ones, α = 0.05, 95% intervals, a 2-point margin. Pure (no streamlit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from client import schema
from dashboard.runs.pairing import BOTH_RIGHT, BOTH_WRONG, FIX, REGRESSION, pair_rows
from dashboard.runs.stats import Interval, mcnemar_exact_p, newcombe_paired_interval
from dashboard.runs.verdict_words import Verdict, points

__all__ = ["ALPHA", "EQUIVALENCE_MARGIN", "verdict_of", "PairedCounts", "paired_counts", "comparison_verdict",
           "short_verdict"]

ALPHA = 0.05
EQUIVALENCE_MARGIN = 0.02


def verdict_of(mcnemar_p: float, difference: Interval, fixes: int, regressions: int, *, alpha: float = ALPHA,
               margin: float = EQUIVALENCE_MARGIN) -> Verdict:
    """The verdict from McNemar's p, the interval of B − A and the discordant counts."""
    if mcnemar_p < alpha and difference.estimate != 0:
        return Verdict.BETTER if difference.estimate > 0 else Verdict.WORSE
    if fixes == regressions or (-margin <= difference.low and difference.high <= margin):
        return Verdict.NO_DIFFERENCE
    return Verdict.NOT_ENOUGH_EVIDENCE


@dataclass(frozen=True)
class PairedCounts:
    """The right/wrong table of the images both runs classified that have a truth, and how many agreed."""
    both_right: int
    fixes: int             # A wrong, B right
    regressions: int       # A right, B wrong
    both_wrong: int
    paired: int            # images both classified (with or without truth)
    agreements: int        # ... where both gave the same top class

    @property
    def judged(self) -> int:
        return self.both_right + self.fixes + self.regressions + self.both_wrong


def paired_counts(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> PairedCounts | None:
    """The counts of two runs' rows (client.schema columns), paired as Compare pairs them on the classes both have;
    None when they share no class."""
    classes_a, classes_b = schema.class_names_of(rows_a.columns), schema.class_names_of(rows_b.columns)
    common = [name for name in classes_a if name in set(classes_b)]
    if not common:
        return None
    paired, *_ = pair_rows(rows_a, rows_b, common, list(dict.fromkeys([*classes_a, *classes_b])))
    counts = paired["transition"].value_counts()
    return PairedCounts(*(int(counts.get(k, 0)) for k in (BOTH_RIGHT, FIX, REGRESSION, BOTH_WRONG)),
                        paired=len(paired), agreements=int((~paired["flipped"]).sum()) if len(paired) else 0)


def short_verdict(counts: PairedCounts | None, *, alpha: float = ALPHA, margin: float = EQUIVALENCE_MARGIN) -> str:
    """"Promote B: +7.0 points, 7 fixes, 0 breaks on 100 images", "Keep A: …", "No clear difference: …",
    "Not enough evidence yet: …", or why there is no verdict."""
    if counts is None:
        return "no verdict: no class in common"
    if counts.paired == 0:
        return "no verdict: no image classified by both"
    if counts.judged == 0:
        return f"no verdict (no ground truth): {counts.agreements / counts.paired:.1%} agreement"
    difference = newcombe_paired_interval(counts.both_right, counts.regressions, counts.fixes, counts.both_wrong)
    verdict = verdict_of(mcnemar_exact_p(counts.fixes, counts.regressions), difference, counts.fixes,
                         counts.regressions, alpha=alpha, margin=margin)
    lead = {Verdict.BETTER: "Promote B", Verdict.WORSE: "Keep A", Verdict.NO_DIFFERENCE: "No clear difference",
            Verdict.NOT_ENOUGH_EVIDENCE: "Not enough evidence yet"}[verdict]
    fixes = f"{counts.fixes} fix" + ("" if counts.fixes == 1 else "es")
    breaks = f"{counts.regressions} break" + ("" if counts.regressions == 1 else "s")
    return f"{lead}: {points(difference.estimate)} points, {fixes}, {breaks} on {counts.judged:,} images"


def comparison_verdict(rows: Sequence[pd.DataFrame]) -> str:
    """Each other run against the first (the baseline): one short verdict, or "B: …; C: …" for more sides."""
    if len(rows) < 2:
        return ""
    verdicts = [short_verdict(paired_counts(rows[0], other)) for other in rows[1:]]
    if len(verdicts) == 1:
        return verdicts[0]
    letters = "BCDEFGHIJ"
    return "; ".join(f"{letters[i] if i < len(letters) else i + 2}: {text}" for i, text in enumerate(verdicts))
