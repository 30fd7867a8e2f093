"""The CLI's classify run as rows: results -> client.schema rows with ground truth, and the summary lines."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from client import schema
from client.plan import ClassifyPlan
from client.results import ClassificationResult
from client.sources import Skipped
from client.truth import TruthDetection, detect_truth

__all__ = ["RowMaker", "accuracy_text", "preparation_lines", "skipped_text"]

SKIPPED_SHOWN = 10  # names listed in the summary; the rest are counted by reason


class RowMaker:
    """Schema rows for one run. Rows wait until the model's class names are known (from --labels or the
    first successful result), because ground truth is matched to them; then they flow one by one."""

    def __init__(self, sources: Sequence[str], *, model: str, target: str, class_names: Sequence[str] | None,
                 truth_method: str, truth_file: Mapping[str, str] | tuple[str, bytes] | None = None,
                 profile: str | None = None) -> None:
        self.sources, self.model, self.target, self.profile = sources, model, target, profile
        self.truth_method, self.truth_file = truth_method, truth_file
        self.class_names: tuple[str, ...] | None = None
        self.detection: TruthDetection | None = None
        self._held: list[ClassificationResult] = []
        if class_names:
            self._know(class_names)

    def _know(self, class_names: Iterable[str]) -> None:
        self.class_names = tuple(class_names)
        self.detection = detect_truth(self.sources, self.class_names, method=self.truth_method,
                                      truth_file=self.truth_file)

    def add(self, result: ClassificationResult) -> list[dict[str, Any]]:
        if self.class_names is None and result.ok and result.probabilities:
            self._know(result.probabilities)
        self._held.append(result)
        return self._release() if self.class_names is not None else []

    def finish(self) -> list[dict[str, Any]]:
        """Rows still held (no result succeeded, so no class names: rows without prob_ columns)."""
        if self.class_names is None and self._held:
            self._know(())
        return self._release()

    def _release(self) -> list[dict[str, Any]]:
        assert self.class_names is not None and self.detection is not None
        truth = self.detection.truth
        rows = [schema.result_row(r, self.class_names, model=self.model, target=self.target,
                                  ground_truth=truth.get(r.source), profile=self.profile) for r in self._held]
        self._held.clear()
        return rows


def accuracy_text(rows: Iterable[Mapping[str, Any]]) -> str | None:
    """"accuracy 95.0% (57/60 with ground truth)" over rows with a prediction and an effective truth."""
    verdicts = [schema.is_correct(row.get("top_class"), schema.effective_truth(row)) for row in rows]
    judged = [v for v in verdicts if v is not None]
    if not judged:
        return None
    return f"accuracy {100.0 * sum(judged) / len(judged):.1f}% ({sum(judged)}/{len(judged)} with ground truth)"


def skipped_text(skipped: Sequence[Skipped]) -> str | None:
    """"skipped 3: a.zip/.DS_Store (hidden file), …"; past SKIPPED_SHOWN names, the rest counted by reason."""
    if not skipped:
        return None
    shown = ", ".join(f"{s.name} ({s.reason})" for s in skipped[:SKIPPED_SHOWN])
    rest = skipped[SKIPPED_SHOWN:]
    if rest:
        reasons: dict[str, int] = {}
        for item in rest:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        shown += f", and {len(rest)} more (" + ", ".join(f"{n} {r}" for r, n in reasons.items()) + ")"
    return f"skipped {len(skipped)}: {shown}"


def preparation_lines(plan: ClassifyPlan) -> list[str]:
    """What the run sends and reads, said before it starts: the pixel preparation (assumed or from a profile) and
    an output read as other than probabilities."""
    lines = []
    if plan.recipe is not None:
        lines.append(f"preparation assumed: {plan.preparation}; set a profile with --profile FILE.json"
                     if plan.profile_assumed else f"preparation: {plan.preparation}")
    if plan.output_kind != "probabilities":
        lines.append(f"output {plan.probabilities_output!r} read as {plan.output_kind}"
                     + ("" if plan.reading.distribution else " (independent scores, not a distribution)"))
    return lines
