"""Which model version a request goes to: the latest, a version number, or a label (TF Serving's three forms)."""
from __future__ import annotations

from dataclasses import dataclass

from client.schema import target_text


@dataclass(frozen=True)
class Target:
    version: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.version is not None and self.label is not None:
            raise ValueError("a target is a version or a label, not both")

    @classmethod
    def parse(cls, text: str) -> "Target":
        """The target a stored run names (client.schema.target_text's "version:2", "label:stable", "latest").
        Text in no such form names the latest version."""
        kind, _, value = text.partition(":")
        if kind == "version" and value.isdigit():
            return cls(version=int(value))
        return cls(label=value) if kind == "label" and value else cls()

    @property
    def text(self) -> str:
        """The stored form (client.schema.target_text): the inverse of parse."""
        return target_text(version=self.version, label=self.label)

    @property
    def kwargs(self) -> dict:
        """Keyword arguments for the client calls (version=… / label=…)."""
        return {"version": self.version, "label": self.label}

    def describe(self) -> str:
        if self.label is not None:
            return f"label {self.label}"
        if self.version is not None:
            return f"version {self.version}"
        return "latest"


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
        return f"label {target.label} → version {labels[target.label]}"
    return target.describe()
