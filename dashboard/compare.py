"""Compare: the same images on several targets (versions or labels), each decided against a baseline.

Pure (no streamlit): checks of the targets before a run (signature, class names, A = B), a stored comparison
loaded back as dashboard.decision.Side objects, corrections written to every run of a comparison, and the
promotion plan for a winner. The runs themselves belong to dashboard.runner.RunManager.submit_compare.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd
from PIL import Image

from client import TFServingClient, TFServingError, schema
from client.protocol import SignatureSpec, TensorSpec

from dashboard.classify import configured_signature
from dashboard.classify_runs import jpeg_data_uri
from dashboard.config import STATUS_TIMEOUT_S
from dashboard.decision import ALIGN, ClassSetMismatch, Decision, Side, align_classes, compare_with_baseline
from dashboard.errors import explain
from dashboard.models import format_shape
from dashboard.promotion import PromotionError, PromotionPlan, promotion_plan
from dashboard.store import Comparison, RunInfo, Store
from dashboard.targets import Target

ABSENT = "—"
PROBE_NAME = "servescope-probe.png"


@dataclass(frozen=True)
class TargetCheck:
    """What the server says about one target before a run: the version it resolves to, the signature a
    classification would use and the model's class names, or why the target cannot be used."""
    target: Target
    version: int | None = None
    signature: SignatureSpec | None = None
    classes: tuple[str, ...] = ()
    error: str | None = None       # plain text, from dashboard.errors.explain

    @property
    def name(self) -> str:
        shown = self.target.describe()
        return shown if self.version is None or self.target.version is not None else f"{shown} (v{self.version})"


def _probe_image() -> bytes:
    # A grey square: any image classifier answers it, and the answer names the model's classes in order.
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (128, 128, 128)).save(out, format="PNG")
    return out.getvalue()


def check_targets(url: str, model: str, targets: Sequence[Target], *,
                  timeout: float = STATUS_TIMEOUT_S) -> list[TargetCheck]:
    """One TargetCheck per target, in order. A model that cannot classify images (half_plus_two), an unknown
    version or label, or an unreachable server gives the explained error instead of raising. Class names come
    from the signature when it fixes them, else from one probe image sent to that version."""
    checks = []
    with TFServingClient(url, model, timeout=timeout, retries=1, signature=configured_signature()) as client:
        for target in targets:
            try:
                version, plan = client.plan(**target.kwargs)
                signature = client.metadata(version=version).signature(plan.signature_name) if version else None
                classes = tuple(plan.labels or ())
                if not classes:
                    [probe] = client.classify([(PROBE_NAME, _probe_image)], batch_size=1, concurrency=1,
                                              version=version, label=None if version else target.label)
                    classes = tuple(probe.probabilities) if probe.ok else ()
                checks.append(TargetCheck(target, version, signature, classes))
            except TFServingError as exc:
                checks.append(TargetCheck(target, error=explain(exc, url, model)))
    return checks


def same_target_warnings(checks: Sequence[TargetCheck]) -> list[str]:
    """A = B: a target chosen twice, or two targets that reach the same version (label stable and version 1)."""
    found, seen = [], {}
    for check in checks:
        if check.target in seen:
            found.append(f"{check.target.describe()} is chosen twice: comparing a target with itself measures "
                         "only noise.")
            continue
        seen[check.target] = check
    by_version: dict[int, list[str]] = {}
    for check in seen.values():
        if check.version is not None:
            by_version.setdefault(check.version, []).append(check.target.describe())
    for version, names in by_version.items():
        if len(names) > 1:
            found.append(f"{' and '.join(names)} all reach version {version}: any difference between them is "
                         "noise, not a change of model.")
    return found


def class_set_notes(checks: Sequence[TargetCheck], baseline: int, policy: str = ALIGN) -> list[str]:
    """Each target's classes against the baseline's: a note when they differ (aligned on the common classes).
    Raises ClassSetMismatch naming the target when they share none, or differ and `policy` is "refuse"."""
    base = checks[baseline]
    notes = []
    for index, check in enumerate(checks):
        if index == baseline or not base.classes or not check.classes:
            continue
        try:
            _, note = align_classes(base.classes, check.classes, policy)
        except ClassSetMismatch as exc:
            raise ClassSetMismatch(f"{check.target.describe()} against {base.target.describe()}: {exc}") from None
        if note:
            notes.append(f"{check.target.describe()}: {note}")
    return notes


def _tensor_text(tensor: TensorSpec | None) -> str:
    return ABSENT if tensor is None else f"{tensor.dtype} {format_shape(tensor.shape)}"


def signature_table(checks: Sequence[TargetCheck]) -> pd.DataFrame:
    """part, name, one column per target (its name), differs: signature name and method, every input and output
    tensor (dtype and shape; "—" where a target lacks it) and the class names, side by side."""
    usable = [c for c in checks if c.error is None]
    names = list(dict.fromkeys(c.name for c in usable))
    rows: list[dict] = []

    def add(part: str, name: str, values: Sequence[str]) -> None:
        rows.append({"part": part, "name": name, **dict(zip(names, values))})

    signatures = [c.signature for c in usable]
    add("signature", "name", [s.name if s else ABSENT for s in signatures])
    add("signature", "method", [s.method_name if s else ABSENT for s in signatures])
    for part, attribute in (("input", "inputs"), ("output", "outputs")):
        tensor_names = sorted({n for s in signatures if s for n in getattr(s, attribute)})
        for tensor in tensor_names:
            add(part, tensor, [_tensor_text(getattr(s, attribute).get(tensor)) if s else ABSENT for s in signatures])
    add("classes", "names", [", ".join(c.classes) or ABSENT for c in usable])
    frame = pd.DataFrame(rows, columns=["part", "name", *names])
    frame["differs"] = frame[names].nunique(axis=1) > 1 if names else False
    return frame


# -- a stored comparison --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StoredComparison:
    comparison: Comparison
    runs: tuple[RunInfo, ...]            # the baseline first, as stored
    rows: tuple[pd.DataFrame, ...]       # each run's rows in client.schema's columns
    thumbnails: Mapping[str, str]        # source -> data: URI (from the run that kept them)

    @property
    def finished(self) -> bool:
        return all(run.finished for run in self.runs)

    @property
    def run_ids(self) -> list[str]:
        return [run.id for run in self.runs]

    @property
    def class_names(self) -> list[str]:
        return list(dict.fromkeys(name for run in self.runs for name in run.class_names))


def load_comparison(store: Store, comparison_id: str) -> StoredComparison | None:
    """The comparison and its runs' rows and thumbnails, or None when no such comparison is stored."""
    comparison = store.get_comparison(comparison_id)
    if comparison is None:
        return None
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    runs = tuple(store.get_run(run_id) for run_id in run_ids)
    if any(run is None for run in runs):
        return None
    rows = tuple(store.run_rows(run_id) for run_id in run_ids)
    thumbnails: dict[str, str] = {}
    for run, frame in zip(runs, rows):
        if run.thumbnails:
            for position, data in store.run_thumbnails(run.id).items():
                if position in frame.index:
                    thumbnails.setdefault(str(frame.at[position, "source"]), jpeg_data_uri(data))
    return StoredComparison(comparison, runs, rows, thumbnails)


def target_of(run: RunInfo) -> Target:
    kind, _, value = run.target.partition(":")
    if kind == "version" and value.isdigit():
        return Target(version=int(value))
    return Target(label=value) if kind == "label" else Target()


def side_name(run: RunInfo) -> str:
    target = target_of(run)
    if target.version is None and run.version is not None:
        return f"{target.describe()} (v{run.version})"
    return target.describe()


def sides(loaded: StoredComparison, signatures: Mapping[int, SignatureSpec] | None = None) -> list[Side]:
    """One decision.Side per run: its rows, warm elapsed time (the runner's warm-up is not in it), signature
    (by the version that answered, when given) and, for a label, the version it named at start and at end."""
    found = []
    for run, rows in zip(loaded.runs, loaded.rows):
        label = target_of(run).label
        found.append(Side(rows.reset_index(drop=True), name=side_name(run), elapsed_s=run.elapsed_s,
                          signature=(signatures or {}).get(run.version) if run.version is not None else None,
                          version_at_start=run.labels_at_start.get(label) if label else None,
                          version_at_end=run.labels_at_end.get(label) if label else None))
    return found


def decisions(loaded: StoredComparison, baseline: int = 0, *, classes: str = ALIGN,
              signatures: Mapping[int, SignatureSpec] | None = None) -> list[Decision]:
    """Every other run decided against run `baseline`. Raises ClassSetMismatch when classes cannot be compared."""
    return compare_with_baseline(sides(loaded, signatures), baseline, classes=classes)


def correct_everywhere(store: Store, run_ids: Sequence[str], source: str, correction: str | None,
                       class_names: Sequence[str]) -> int:
    """The analyst's class for `source` on every run of the comparison (so every side is judged against the
    same truth); returns the rows changed. ValueError for a class no side has or a source no run has."""
    if correction is not None and correction not in class_names:
        raise ValueError(f"correction for {source!r}: {correction!r} is not one of the classes "
                         f"({', '.join(class_names)})")
    changed = 0
    for run_id in run_ids:
        try:
            changed += store.set_correction(run_id, source, correction)
        except LookupError:
            continue  # a side that never got this image (cancelled before it)
    if not changed:
        raise ValueError(f"correction: no run of this comparison has an image named {source!r}")
    return changed


def promotion_for(decision: Decision, baseline: RunInfo, candidate: RunInfo, *,
                  labels_now: Mapping[str, int] | None = None,
                  versions_now: Sequence[int] = ()) -> PromotionPlan | None:
    """What pointing the baseline's label at the candidate's version takes; None when there is no label to
    move (the baseline is a version no label names) or no version that answered."""
    labels = dict(labels_now if labels_now is not None else baseline.labels_at_start)
    label = target_of(baseline).label or next((name for name, v in labels.items() if v == baseline.version), None)
    if label is None or candidate.version is None:
        return None
    versions = sorted(set(versions_now) | {v for v in (baseline.version,) if v is not None})
    try:
        return promotion_plan(decision.model or baseline.model, label=label, to_version=candidate.version,
                              versions=versions or [candidate.version], labels=labels)
    except PromotionError:
        return None


def stored_truth(store: Store, run_id: str) -> dict[str, str]:
    """source -> ground truth of a stored run (what "Compare with…" carries over from a Classify result)."""
    rows = store.run_rows(run_id)
    known = rows[rows["ground_truth"].notna()]
    return {str(source): str(truth) for source, truth in zip(known["source"], known["ground_truth"])
            if not schema.is_missing(truth)}
