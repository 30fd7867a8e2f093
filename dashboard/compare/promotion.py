"""What promoting B means in TF Serving terms: ModelServerConfig text to paste, in the order that is safe.

The dashboard has no write access to TF Serving, and cannot import tensorflow-serving-api, so the protobuf
text format is written here (the tests parse it with the real model_server_config_pb2). TF Serving assigns a
label only to a version that is loaded and AVAILABLE; --allow_version_labels_for_unavailable_models lets a *new*
label point at a version still loading, never an existing label move to one. So: load B first, then move the label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

_LABEL = re.compile(r"^[A-Za-z0-9_.\-]+$")


class PromotionError(ValueError):
    """The model, label or versions cannot make a valid config."""


def _quoted(text: str, field: str) -> str:
    """A protobuf text-format string literal; control characters are refused rather than escaped."""
    if not text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise PromotionError(f"{field} must be non-empty text without control characters, got {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _version(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PromotionError(f"{field} must be a positive integer version, got {value!r}")
    return value


def model_server_config(model: str, *, versions: Sequence[int], labels: Mapping[str, int],
                        base_path: str | None = None, platform: str = "tensorflow") -> str:
    """A ModelServerConfig (text format) serving exactly `versions` of `model` with `labels`.

    Without `base_path` the field is left out with a comment: keep the one your config file has."""
    chosen = sorted({_version(v, "versions") for v in versions})
    if not chosen:
        raise PromotionError("versions: give at least one version to serve")
    lines = ["model_config_list {", "  config {", f"    name: {_quoted(model, 'model name')}"]
    if base_path is None:
        lines.append("    # base_path: keep the base_path your config file already has")
    else:
        lines.append(f"    base_path: {_quoted(base_path, 'base path')}")
    lines += [f"    model_platform: {_quoted(platform, 'model platform')}", "    model_version_policy {",
              "      specific {", *(f"      versions: {v}" for v in chosen), "      }", "    }"]
    for label, version in sorted(labels.items()):
        if not _LABEL.match(label):
            raise PromotionError(f"label {label!r}: use letters, digits, '_', '-' or '.'")
        if _version(version, f"label {label}") not in chosen:
            raise PromotionError(f"label {label!r} points at version {version}, which the config does not serve "
                                 f"(versions {', '.join(map(str, chosen))})")
        lines += ["    version_labels {", f"      key: {_quoted(label, 'label')}", f"      value: {version}", "    }"]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PromotionStep:
    title: str
    explanation: str
    config: str | None       # ModelServerConfig text for this step, or None for a check only


@dataclass(frozen=True)
class PromotionPlan:
    model: str
    label: str
    from_version: int | None
    to_version: int
    steps: tuple[PromotionStep, ...]

    def text(self) -> str:
        """The whole plan as plain text (for the report and the download)."""
        parts = []
        for number, step in enumerate(self.steps, 1):
            parts.append(f"{number}. {step.title}\n{step.explanation}")
            if step.config:
                parts.append(step.config)
        return "\n\n".join(parts)


def promotion_plan(model: str, *, label: str, to_version: int, versions: Sequence[int],
                   labels: Mapping[str, int], base_path: str | None = None) -> PromotionPlan:
    """Point `label` at `to_version`. `versions` and `labels` are what the server serves now."""
    target = _version(to_version, "to_version")
    current = sorted({_version(v, "versions") for v in versions})
    serving = sorted(set(current) | {target})
    before = dict(labels)
    after = {**before, label: target}
    from_version = before.get(label)
    load = PromotionStep(
        "Load the new version beside the old one",
        f"Serve versions {', '.join(map(str, serving))} with the labels unchanged, and wait until "
        f"GET /v1/models/{model}/versions/{target} reports AVAILABLE. TF Serving assigns a label only to a loaded, "
        f"available version; --allow_version_labels_for_unavailable_models would let a new label point at a "
        f"version still loading, but never moves an existing label such as '{label}'.",
        model_server_config(model, versions=serving, labels=before, base_path=base_path))
    move = PromotionStep(
        f"Move '{label}' to version {target}",
        f"Reload the config (the server polls the file when started with --model_config_file_poll_wait_seconds, "
        f"or send a HandleReloadConfigRequest). Requests to /labels/{label} go to version {target} from then on. "
        + (f"Version {from_version} stays loaded, so rolling back is moving the label back."
           if from_version is not None and from_version != target else ""),
        model_server_config(model, versions=serving, labels=after, base_path=base_path))
    steps = [load, move]
    if from_version is not None and from_version != target and from_version not in after.values():
        keep = [v for v in serving if v != from_version]
        steps.append(PromotionStep(
            f"Later: retire version {from_version}",
            f"Once no label points at version {from_version} and the rollback window is over, stop serving it.",
            model_server_config(model, versions=keep, labels=after, base_path=base_path)))
    return PromotionPlan(model=model, label=label, from_version=from_version, to_version=target, steps=tuple(steps))
