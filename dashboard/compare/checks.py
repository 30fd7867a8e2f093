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
from dashboard.server.profiles import ProfileChoice, ProfileChooser, ProfileFileError, short_digest
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
    profile: ProfileChoice | None = None   # the model profile a run of it would use
    preparation: str | None = None         # what it would send (client.plan.ClassifyPlan.preparation)
    assumed: bool = False                  # a pixel model with no profile: the default preparation is assumed

    @property
    def profile_digest(self) -> str | None:
        return self.profile.profile.digest if self.profile is not None and self.profile.profile else None

    @property
    def name(self) -> str:
        shown = self.target.describe()
        return shown if self.version is None or self.target.version is not None else f"{shown} (v{self.version})"


def _probe_image() -> bytes:
    # A grey square: any image classifier answers it, and the answer names the model's classes in order.
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (128, 128, 128)).save(out, format="PNG")
    return out.getvalue()


def _check(url: str, model: str, target: Target, profiles: ProfileChooser, timeout: float) -> TargetCheck:
    signature_config = configured_signature()
    with TFServingClient(url, model, timeout=timeout, retries=1, signature=signature_config) as client:
        try:
            version = client.resolve_version(**target.kwargs)
        except TFServingError:
            version = target.version   # a server without the status API (SERVESCOPE_SIGNATURE): plan() says
    choice = profiles.for_target(target).choose(version)
    if choice.problem is not None:
        return TargetCheck(target, version, error=str(ProfileFileError(choice.problem)), profile=choice)
    with TFServingClient(url, model, timeout=timeout, retries=1, signature=signature_config,
                         profile=choice.profile) as client:
        try:
            version, plan = client.plan(**target.kwargs)
            signature = client.metadata(version=version).signature(plan.signature_name) if version else None
            classes = tuple(plan.labels or ())
            if not classes:
                [probe] = client.classify([(PROBE_NAME, _probe_image)], batch_size=1, concurrency=1,
                                          version=version, label=None if version else target.label)
                classes = tuple(probe.probabilities) if probe.ok else ()
        except TFServingError as exc:
            return TargetCheck(target, error=explain(exc, url, model), profile=choice)
    return TargetCheck(target, version, signature, classes, profile=choice, preparation=plan.preparation,
                       assumed=plan.profile_assumed)


def check_targets(url: str, model: str, targets: Sequence[Target], *, timeout: float = STATUS_TIMEOUT_S,
                  profiles: ProfileChooser | None = None) -> list[TargetCheck]:
    """One TargetCheck per target, in order, each planned with the profile a run of it would use (`profiles`;
    None: the built-in one or none). A model that cannot classify images (half_plus_two), an unknown version or
    label, a profile that cannot be used or does not fit, or an unreachable server gives the explained error
    instead of raising. Class names come from the profile or the signature when they fix them, else from one
    probe image sent to that version."""
    profiles = profiles or ProfileChooser(model)
    return [_check(url, model, target, profiles, timeout) for target in targets]


def profile_warnings(checks: Sequence[TargetCheck]) -> list[str]:
    """A pixel model with no profile (the default preparation is assumed), and targets prepared or read with
    different profiles."""
    usable = [c for c in checks if c.error is None]
    found = [f"{c.name}: preparation assumed: {c.preparation}; set a profile (Models page, this session) or ask "
             "the operator for one in SERVESCOPE_PROFILES." for c in usable if c.assumed]
    digests = {c.profile_digest for c in usable}
    if len(digests) > 1:
        found.append("The targets use different model profiles (" + "; ".join(
            f"{c.name}: {short_digest(c.profile_digest) or 'none'}" for c in usable) + "): a difference between "
            "them may come from how the images were prepared or read, not from the model.")
    return found


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
    tensor (dtype and shape; "—" where a target lacks it), the class names and the model profile (its digest,
    where it came from and the preparation it sends), side by side."""
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
    add("profile", "digest", [short_digest(c.profile_digest) or ABSENT for c in usable])
    add("profile", "from", [c.profile.origin if c.profile else ABSENT for c in usable])
    add("profile", "preparation", [("assumed: " if c.assumed else "") + (c.preparation or ABSENT) for c in usable])
    frame = pd.DataFrame(rows, columns=["part", "name", *names])
    frame["differs"] = frame[names].nunique(axis=1) > 1 if names else False
    return frame
