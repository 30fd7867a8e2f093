"""Should B (say the canary) replace A (the stable version)? A verdict from two runs over the same images.

Pure: result frames in client/schema.py's schema in, frozen dataclasses out; no streamlit. Rows are paired on
`source`; an image that failed on either side is counted and left out of every paired statistic.

With ground truth: McNemar's exact test on the discordant images, accuracy(B) − accuracy(A) with Newcombe's
interval for paired proportions (method 10; the verdict uses it) and a seeded paired bootstrap beside it.
Without truth: agreement (Wilson interval), Cohen's κ, flips by class pair, mean change of top-class confidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from client import schema
from client.protocol import SignatureSpec
from client.store.records import RunProfile
from dashboard.compare import tables
from dashboard.compare.profiles import profile_warnings, with_profiles
from dashboard.runs.latency_probe import SideProbe
from dashboard.runs.stats import (
    IMAGES_NEEDED_METHOD,
    MAX_DISCORDANT,
    Interval,
    cohen_kappa,
    images_needed,
    mcnemar_exact_p,
    newcombe_paired_interval,
    paired_bootstrap_interval,
    wilson_interval,
)
from dashboard.runs.verdict_words import (  # noqa: F401 - Verdict and format_p are this module's too
    Verdict,
    count_of as _count,
    format_p,
    plain_verdict,
    points as _points,
    verdict_sentence,
)
from dashboard.runs.verdicts import verdict_of
from dashboard.server.signatures import signature_digest, signature_rows

ALIGN, REFUSE = "align", "refuse"
NOT_PROBED = "Latency was not measured on its own for this comparison (no latency probe is stored)."


class ClassSetMismatch(ValueError):
    """The two sides' classes cannot be compared (nothing in common, or alignment refused)."""


@dataclass(frozen=True, eq=False)
class Side:
    """One run: its rows in the schema, and what the runner knows around them."""
    rows: pd.DataFrame
    name: str = ""                       # display name; default: the rows' target ("label:canary")
    probe: SideProbe | None = None       # its latency measured on its own (dashboard.runs.latency_probe)
    signature: SignatureSpec | None = None
    version_at_start: int | None = None  # what the target resolved to when the run started / ended
    version_at_end: int | None = None
    profile: RunProfile | None = None    # the model profile the run used

    def _distinct(self, column: str) -> list:
        if column not in self.rows:
            return []
        return sorted({value for value in self.rows[column].tolist() if not schema.is_missing(value)})

    @property
    def targets(self) -> list[str]:
        return [str(t) for t in self._distinct("target")]

    @property
    def label(self) -> str:
        return self.name or ", ".join(self.targets) or "?"

    @property
    def classes(self) -> list[str]:
        return schema.class_names_of(self.rows.columns)

    @property
    def model(self) -> str | None:
        models = self._distinct("model")
        return str(models[0]) if models else None

    @property
    def versions(self) -> list[int]:
        return [int(v) for v in self._distinct("version")]


def align_classes(classes_a: Sequence[str], classes_b: Sequence[str],
                  policy: str = ALIGN) -> tuple[list[str], str | None]:
    """The classes both sides have (A's order) and a note when the sets differ; ClassSetMismatch when they
    share none, or differ and `policy` is "refuse"."""
    common = [name for name in classes_a if name in set(classes_b)]
    if set(classes_a) == set(classes_b):
        return common, None
    only_a = [n for n in classes_a if n not in set(classes_b)]
    only_b = [n for n in classes_b if n not in set(classes_a)]
    detail = (f"A has {', '.join(classes_a) or 'no classes'}; B has {', '.join(classes_b) or 'no classes'}")
    if not common:
        raise ClassSetMismatch(f"A and B have no class in common, so their probabilities cannot be compared ({detail})")
    if policy == REFUSE:
        raise ClassSetMismatch(f"A and B have different classes ({detail})")
    note = (f"Different class sets: probabilities are compared on the {len(common)} common classes "
            f"({', '.join(common)}); only A has {', '.join(only_a) or 'none'}, "
            f"only B has {', '.join(only_b) or 'none'}."
            " Accuracy counts each side's own top class.")
    return common, note


@dataclass(frozen=True, eq=False)
class TruthStats:
    images: int                     # paired images with a known truth
    accuracy_a: Interval            # Wilson
    accuracy_b: Interval
    difference: Interval            # B − A, Newcombe (the verdict's)
    bootstrap: Interval             # B − A, paired bootstrap (shown beside it)
    mcnemar_p: float
    both_right: int
    fixes: int                      # A wrong -> B right
    regressions: int                # A right -> B wrong
    both_wrong: int
    transitions: pd.DataFrame
    per_class_recall: pd.DataFrame
    confusion_difference: pd.DataFrame
    calibration: pd.DataFrame       # reliability bins, long form with `side`
    calibration_scores: dict        # "A: <label>" / "B: <label>" -> {"ece", "brier"}


@dataclass(frozen=True, eq=False)
class AgreementStats:
    images: int
    agreements: int
    rate: Interval                  # Wilson
    kappa: float | None
    mean_confidence_change: float   # mean of B's top-class confidence − A's
    flips_by_pair: pd.DataFrame


@dataclass(frozen=True, eq=False)
class Decision:
    a: str
    b: str
    model: str | None
    classes: tuple[str, ...]        # common classes (A's order)
    class_order: tuple[str, ...]    # every class of either side, for the flip matrix
    images: int                     # distinct images on either side
    paired_images: int              # classified without error by both
    failed: int                     # on both sides, but failed on at least one
    unmatched: int                  # on one side only
    verdict: Verdict
    headline: str                   # the plain-language verdict, drawn first (plain_verdict)
    sentence: str                   # the statistics behind it
    images_needed: int | None
    images_needed_text: str | None
    truth: TruthStats | None
    agreement: AgreementStats | None
    paired: pd.DataFrame            # see dashboard.compare.tables
    flip_matrix: pd.DataFrame
    cost: pd.DataFrame               # tables.cost_row per side: latency from the probe, server errors only
    warnings: tuple[str, ...]
    signatures: pd.DataFrame | None
    digests: dict = field(default_factory=dict)      # "A"/"B" -> "sha256:..." of the signature used
    profiles: dict = field(default_factory=dict)     # "A"/"B" -> the RunProfile each side used
    versions: dict = field(default_factory=dict)     # "A"/"B" -> versions that answered
    alpha: float = 0.05
    latency_how: str = NOT_PROBED     # how the cost table's latency was measured
    input_errors: pd.DataFrame = field(default_factory=lambda: tables.input_errors([]))  # side, source, error


def _truth_stats(paired: pd.DataFrame, a: Side, b: Side, order: list[str], common: list[str], level: float,
                 seed: int, replicates: int) -> TruthStats | None:
    known = paired[paired["transition"] != tables.NO_TRUTH]
    if known.empty:
        return None
    counts = known["transition"].value_counts()
    both_right, fixes, regressions, both_wrong = (int(counts.get(k, 0)) for k in (
        tables.BOTH_RIGHT, tables.FIX, tables.REGRESSION, tables.BOTH_WRONG))
    n = len(known)
    calibration, scores = tables.calibration(known, {"a": common, "b": common},
                                             {"a": f"A: {a.label}", "b": f"B: {b.label}"})
    return TruthStats(
        images=n, accuracy_a=wilson_interval(both_right + regressions, n, level),
        accuracy_b=wilson_interval(both_right + fixes, n, level),
        difference=newcombe_paired_interval(both_right, regressions, fixes, both_wrong, level),
        bootstrap=paired_bootstrap_interval(known["correct_a"].astype(bool), known["correct_b"].astype(bool),
                                            seed=seed, replicates=replicates, level=level),
        mcnemar_p=mcnemar_exact_p(fixes, regressions), both_right=both_right, fixes=fixes, regressions=regressions,
        both_wrong=both_wrong, transitions=tables.transitions(known), per_class_recall=tables.per_class_recall(
            known, order), confusion_difference=tables.confusion_difference(known, order),
        calibration=calibration, calibration_scores=scores)


def _agreement(paired: pd.DataFrame, level: float) -> AgreementStats | None:
    if paired.empty:
        return None
    agreements = int((~paired["flipped"]).sum())
    return AgreementStats(images=len(paired), agreements=agreements,
                          rate=wilson_interval(agreements, len(paired), level),
                          kappa=cohen_kappa(paired["top_a"].tolist(), paired["top_b"].tolist()),
                          mean_confidence_change=float((paired["confidence_b"] - paired["confidence_a"]).mean()),
                          flips_by_pair=tables.flips_by_pair(paired))


def _digest(side: Side) -> str | None:
    return side.profile.digest if side.profile is not None else None


def _warnings(a: Side, b: Side, note: str | None, failed: int, unmatched: int) -> list[str]:
    found = []
    same_target = a.targets and a.targets == b.targets and a.model == b.model
    same_version = len(a.versions) == 1 and a.versions == b.versions and a.model == b.model
    if _digest(a) != _digest(b) and (same_target or same_version):
        found.append(f"A ({a.label}) and B ({b.label}) are the same model version with different model profiles: "
                     "every difference between them comes from how the images were prepared or read.")
    elif same_target:
        found.append(f"A and B are the same target ({', '.join(a.targets)}): any difference between them is "
                     "noise, not a change of model.")
    elif same_version:
        found.append(f"A ({a.label}) and B ({b.label}) were both answered by version {a.versions[0]}: any "
                     "difference between them is noise, not a change of model.")
    for name, side in (("A", a), ("B", b)):
        start, end = side.version_at_start, side.version_at_end
        if start is not None and end is not None and start != end:
            found.append(f"{name} ({side.label}) pointed at version {start} when the run started and at version "
                         f"{end} when it ended: the comparison may mix versions.")
        elif len(side.versions) > 1:
            found.append(f"{name} ({side.label}) was answered by versions "
                         f"{', '.join(map(str, side.versions))}: its label moved during the run, so the "
                         "comparison may mix versions.")
    prepared_apart = _digest(a) != _digest(b) and (same_target or same_version)   # said above, more precisely
    found += [w for w in profile_warnings({"A": (a.label, a.model, a.profile), "B": (b.label, b.model, b.profile)})
              if not (prepared_apart and w.startswith("A and B used different model profiles"))]
    if note:
        found.append(note)
    if failed:
        found.append(f"{_count(failed, 'image')} failed on A or B and {'is' if failed == 1 else 'are'} left out "
                     "of the paired statistics.")
    if unmatched:
        found.append(f"{_count(unmatched, 'image')} {'was' if unmatched == 1 else 'were'} classified on one "
                     "side only and left out.")
    return found


def decide(a: Side, b: Side, *, alpha: float = 0.05, level: float = 0.95, seed: int = 0,
           bootstrap_replicates: int = 4000, classes: str = ALIGN, equivalence_margin: float = 0.02,
           power: float = 0.8, latency_how: str | None = None) -> Decision:
    """Everything the Compare page shows about B against A.

    The verdict follows McNemar's exact test: better/worse only when p < `alpha`. Otherwise "no detectable
    difference" when fixes equal regressions or the interval lies within ± `equivalence_margin` (0.02 = 2
    points), else "not enough evidence" with the images needed — also when the interval alone excludes 0, as
    Newcombe's can for 5 fixes and 0 regressions where the exact test cannot yet reject."""
    for name, side in (("A", a), ("B", b)):
        if "source" not in side.rows or not side.classes:
            raise ClassSetMismatch(f"{name} ({side.label}) has no class probabilities (no prob_<class> columns): "
                                   "only classifiers can be compared")
    common, note = align_classes(a.classes, b.classes, classes)
    order = list(dict.fromkeys([*a.classes, *b.classes]))
    paired, failed, unmatched, images = tables.pair_rows(a.rows, b.rows, common, order)
    truth = _truth_stats(paired, a, b, order, common, level, seed, bootstrap_replicates)
    agreement = _agreement(paired, level)
    needed = needed_text = most = None
    if truth is None:
        verdict = Verdict.NOT_ENOUGH_EVIDENCE
        if agreement is None:
            sentence = "Not enough evidence: no image was classified without error by both A and B."
        else:
            r, kappa = agreement.rate, agreement.kappa
            sentence = (f"Not enough evidence: no ground truth for the {_count(agreement.images, 'image')} both "
                        f"classified; B agrees with A on {r.estimate:.1%} "
                        f"({r.level_text} {r.low:.1%} to {r.high:.1%}), "
                        f"Cohen's κ = {'undefined' if kappa is None else f'{kappa:.2f}'}, "
                        f"{_count(agreement.images - agreement.agreements, 'flip')}.")
    else:
        verdict = verdict_of(truth.mcnemar_p, truth.difference, truth.fixes, truth.regressions, alpha=alpha,
                             margin=equivalence_margin)
        sentence = verdict_sentence(verdict, truth, alpha)
        if verdict is Verdict.NOT_ENOUGH_EVIDENCE:
            needed = images_needed(truth.fixes, truth.regressions, truth.images, alpha=alpha, power=power)
            method = IMAGES_NEEDED_METHOD.format(alpha=f"{alpha:g}", power=f"{power:g}")
            points = _points(truth.difference.estimate)
            if needed is not None:
                needed_text = (f"About {needed:,} images would be needed to detect a difference of {points} "
                               f"points (estimated by {method}).")
            else:
                most = MAX_DISCORDANT * truth.images // (truth.fixes + truth.regressions)
                needed_text = (f"Detecting a difference of {points} points would take more than {most:,} images "
                               f"(estimated by {method}).")
    have_signatures = a.signature is not None and b.signature is not None
    signatures = with_profiles(signature_rows(a.signature, b.signature, classes_a=a.classes, classes_b=b.classes)
                               if have_signatures else None, a.profile, b.profile)
    return Decision(
        a=a.label, b=b.label, model=a.model or b.model, classes=tuple(common), class_order=tuple(order),
        images=images, paired_images=len(paired), failed=failed, unmatched=unmatched, verdict=verdict,
        headline=plain_verdict(verdict, a.label, b.label, truth, agreement, images_needed=needed, most=most),
        sentence=sentence, images_needed=needed, images_needed_text=needed_text, truth=truth, agreement=agreement,
        paired=paired, flip_matrix=tables.flip_matrix(paired, order),
        cost=pd.DataFrame([tables.cost_row(f"A: {a.label}", a.rows, a.probe),
                           tables.cost_row(f"B: {b.label}", b.rows, b.probe)]),
        input_errors=tables.input_errors([(f"A: {a.label}", a.rows), (f"B: {b.label}", b.rows)]),
        latency_how=latency_how or NOT_PROBED,
        warnings=tuple(_warnings(a, b, note, failed, unmatched)),
        signatures=signatures,
        digests={name: signature_digest(s.signature) for name, s in (("A", a), ("B", b)) if s.signature is not None},
        profiles={name: s.profile for name, s in (("A", a), ("B", b)) if s.profile is not None},
        versions={"A": a.versions, "B": b.versions}, alpha=alpha)


def compare_with_baseline(sides: Sequence[Side], baseline: int = 0, **options) -> list[Decision]:
    """Each side other than `sides[baseline]` decided against it, in order."""
    if len(sides) < 2:
        raise ValueError(f"a comparison needs at least two targets, got {len(sides)}")
    if not 0 <= baseline < len(sides):
        raise ValueError(f"baseline {baseline} is not one of the {len(sides)} targets")
    return [decide(sides[baseline], side, **options) for i, side in enumerate(sides) if i != baseline]
