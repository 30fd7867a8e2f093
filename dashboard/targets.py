"""Which model version a request goes to (the latest, a version number, or a label: TF Serving's three forms) and,
optionally, the model profile it is classified with (client.profile.ModelProfile)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from client.profile import ModelProfile
from client.schema import target_text

PROFILE_MARK = " profile:"   # "version:2 profile:sha256:<hex>": a target's stored form with a profile


@dataclass(frozen=True)
class Target:
    """A version or a label (or neither: the latest), with an optional model profile.

    Two targets are equal when they name the same version or label and the same profile digest. A target read
    back from its stored form (parse) knows its profile's digest; it holds the profile itself only when the
    caller could give it (parse's `profiles`)."""

    version: int | None = None
    label: str | None = None
    profile: ModelProfile | None = field(default=None, compare=False, repr=False)
    profile_digest: str | None = None

    def __post_init__(self) -> None:
        if self.version is not None and self.label is not None:
            raise ValueError("a target is a version or a label, not both")
        if self.profile is not None:
            if self.profile_digest not in (None, self.profile.digest):
                raise ValueError(f"profile_digest {self.profile_digest} is not the profile's ({self.profile.digest})")
            object.__setattr__(self, "profile_digest", self.profile.digest)

    @classmethod
    def parse(cls, text: str, profiles: Iterable[ModelProfile] = ()) -> "Target":
        """The target a stored run names (client.schema.target_text's "version:2", "label:stable", "latest",
        followed by " profile:sha256:<hex>" when a profile was given). Text in no such form names the latest
        version. The profile is attached when one of `profiles` has that digest."""
        where, _, digest = text.partition(PROFILE_MARK)
        digest = digest.strip() or None
        profile = next((p for p in profiles if p.digest == digest), None) if digest else None
        kind, _, value = where.partition(":")
        if kind == "version" and value.isdigit():
            return cls(version=int(value), profile=profile, profile_digest=digest)
        if kind == "label" and value:
            return cls(label=value, profile=profile, profile_digest=digest)
        return cls(profile=profile, profile_digest=digest)

    @property
    def text(self) -> str:
        """The stored form (client.schema.target_text, plus the profile's digest): the inverse of parse."""
        where = target_text(version=self.version, label=self.label)
        return where if self.profile_digest is None else f"{where}{PROFILE_MARK}{self.profile_digest}"

    @property
    def kwargs(self) -> dict:
        """Keyword arguments for the client calls (version=… / label=…)."""
        return {"version": self.version, "label": self.label}

    @property
    def where(self) -> "Target":
        """The same version or label without a profile."""
        return Target(version=self.version, label=self.label)

    def with_profile(self, profile: ModelProfile | None) -> "Target":
        return Target(version=self.version, label=self.label, profile=profile)

    def describe(self) -> str:
        if self.label is not None:
            shown = f"label {self.label}"
        elif self.version is not None:
            shown = f"version {self.version}"
        else:
            shown = "latest"
        if self.profile_digest is None:
            return shown
        return f"{shown}, {describe_profile(self.profile_digest, self.profile)}"


def describe_profile(digest: str, profile: ModelProfile | None = None) -> str:
    """"profile keras-torch (sha256:1a2b3c4d)": the preset when the profile is known, and the digest's start."""
    short = digest[:15]
    return f"profile {profile.preset_name} ({short})" if profile is not None else f"profile {short}"


LATEST = Target()


def target_options(available_versions: list[int], labels: dict[str, int]) -> list[Target]:
    """Selector choices: labels first (what analysts usually mean), then each available version, then latest."""
    options = [Target(label=name) for name in labels]
    options += [Target(version=v) for v in sorted(available_versions)]
    options.append(LATEST)
    return options


def describe_option(target: Target, labels: dict[str, int]) -> str:
    """Human text for a selector entry, e.g. 'label canary → version 2'."""
    if target.label is not None and target.label in labels:
        shown = f"label {target.label} → version {labels[target.label]}"
        return shown if target.profile_digest is None else \
            f"{shown}, {describe_profile(target.profile_digest, target.profile)}"
    return target.describe()
