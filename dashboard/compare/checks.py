"""Compare, before a run: what each target (version or label) resolves to, its signature and class names, and
the warnings a choice of targets deserves (A = B, class sets that differ). Pure (no streamlit); the runs
themselves belong to dashboard.runs.manager.RunManager.submit_compare.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
from PIL import Image

from client import TFServingClient, TFServingError
from client.protocol import SignatureSpec
from dashboard.compare.decision import ALIGN, ClassSetMismatch, align_classes
from dashboard.config import STATUS_TIMEOUT_S
from dashboard.server.connection import configured_signature
from dashboard.server.explain import explain
from dashboard.server.signatures import ABSENT, tensor_text
from dashboard.targets import Target

PROBE_NAME = "servescope-probe.png"


@dataclass(frozen=True)
class TargetCheck:
    """What the server says about one target before a run: the version it resolves to, the signature a
    classification would use and the model's class names, or why the target cannot be used."""
    target: Target
    version: int | None = None
    signature: SignatureSpec | None = None
    classes: tuple[str, ...] = ()
    error: str | None = None       # plain text, from dashboard.server.explain.explain

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
    by_version: dict[tuple[int, str | None], list[str]] = {}
    for check in seen.values():
        if check.version is not None:   # the same version with two profiles compares preparations: not noise
            by_version.setdefault((check.version, check.target.profile_digest), []).append(check.target.describe())
    for (version, _), names in by_version.items():
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
            add(part, tensor, [tensor_text(getattr(s, attribute).get(tensor)) if s else ABSENT for s in signatures])
    add("classes", "names", [", ".join(c.classes) or ABSENT for c in usable])
    frame = pd.DataFrame(rows, columns=["part", "name", *names])
    frame["differs"] = frame[names].nunique(axis=1) > 1 if names else False
    return frame
