"""The profile editor's logic (dashboard.ui.profile_editor draws it): a profile from the form's fields or from JSON
text, checked as a profile file is (client.profile: every problem an InvalidArgumentError naming the key), with what
a browser session may not use refused, and what the profile would send to the model's newest version. Pure (no
streamlit).

A session's profile never reads a file: `class_names_file` is refused (it would read a file on the dashboard's
host); the operator's folder (dashboard.server.profiles) is where profiles with class-name files live.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from client import InvalidArgumentError, ModelProfile, TFServingClient
from client.profile import MAX_PROFILE_BYTES
from dashboard.config import STATUS_TIMEOUT_S
from dashboard.server.connection import configured_signature

__all__ = ["FORM_FIELDS", "FormValues", "ProfilePreview", "form_values", "preview", "profile_data",
           "session_profile", "session_profile_from_json"]

# The keys the form has a field for (an error on another key is shown above the form).
FORM_FIELDS = ("preset", "class_names", "input.size", "input.resize", "input.resample", "input.channels",
               "input.layout", "output.name", "output.kind")


@dataclass(frozen=True)
class FormValues:
    """The form's fields; "" (or 0 for a side) means "not set": the preset's value, or inferred from the signature."""
    preset: str = ""
    class_names: str = ""      # one per line
    height: int = 0
    width: int = 0
    resize: str = ""
    resample: str = ""
    channels: str = ""
    layout: str = ""
    output_name: str = ""
    output_kind: str = ""


def form_values(data: Mapping[str, Any] | None) -> FormValues:
    """The form's fields for a profile as given (its JSON); settings the form has no field for are left out."""
    data = data or {}
    given, output = data.get("input") or {}, data.get("output") or {}
    size = given.get("size") or (0, 0)
    return FormValues(preset=data.get("preset", ""), class_names="\n".join(data.get("class_names") or ()),
                      height=int(size[0]), width=int(size[1]), resize=given.get("resize", ""),
                      resample=given.get("resample", ""), channels=given.get("channels", ""),
                      layout=given.get("layout", ""), output_name=output.get("name", ""),
                      output_kind=output.get("kind", ""))


def profile_data(values: FormValues, *, keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The profile (as JSON) the fields say; `keep`: a profile whose other settings (scale, mean, std...) stay."""
    kept = dict(keep or {})
    data: dict[str, Any] = {k: v for k, v in kept.items() if k in ("signature_name",)}
    names = [line.strip() for line in values.class_names.splitlines() if line.strip()]
    if names:
        data["class_names"] = names
    if values.preset:
        data["preset"] = values.preset
    given = {k: v for k, v in (kept.get("input") or {}).items() if k not in ("size", "resize", "resample", "channels",
                                                                               "layout")}
    if values.height or values.width:
        given["size"] = [int(values.height), int(values.width)]
    for key in ("resize", "resample", "channels", "layout"):
        if getattr(values, key):
            given[key] = getattr(values, key)
    if given:
        data["input"] = given
    output = {key: value for key, value in (("name", values.output_name.strip()), ("kind", values.output_kind))
              if value}
    if output:
        data["output"] = output
    return data


def session_profile(data: Any) -> ModelProfile:
    """A profile for this browser session, checked; InvalidArgumentError naming the key (class_names_file is
    refused: a session's profile reads no file)."""
    if isinstance(data, Mapping) and "class_names_file" in data:
        raise InvalidArgumentError("class_names_file", data["class_names_file"],
                                   "a profile set in the dashboard cannot read files; list the names in class_names "
                                   "(or ask the operator to put the profile and its file in SERVESCOPE_PROFILES)")
    return ModelProfile.from_dict(data)


def session_profile_from_json(text: str) -> ModelProfile:
    """session_profile of JSON text (at most 1 MiB); InvalidArgumentError("profile", ...) when it is not JSON."""
    if len(text.encode("utf-8")) > MAX_PROFILE_BYTES:
        raise InvalidArgumentError("profile", f"{len(text):,} characters", f"is larger than "
                                                                           f"{MAX_PROFILE_BYTES >> 20} MiB")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgumentError("profile", text[:57] + ("..." if len(text) > 57 else ""),
                                   f"is not JSON ({exc})") from None
    return session_profile(data)


@dataclass(frozen=True)
class ProfilePreview:
    """What a profile means for the model's newest version (or the label/version asked): the preparation line
    (client.plan.ClassifyPlan.preparation), how the output is read and where the class names come from."""
    version: int | None
    preparation: str
    output: str
    classes: str
    assumed: bool


def preview(url: str, model: str, profile: ModelProfile | None, *, version: int | None = None,
            label: str | None = None, timeout: float = STATUS_TIMEOUT_S) -> ProfilePreview:
    """Plan a classification with `profile` (None: none) against the model's signature, sending nothing to predict.
    Raises InvalidArgumentError naming the profile key that does not fit the signature, or another
    client.TFServingError (SignatureError, the server unreachable...)."""
    with TFServingClient(url, model, timeout=timeout, retries=0, profile=profile,
                         signature=configured_signature()) as client:
        answered, plan = client.plan(version=version, label=label)
    output = f"output {plan.probabilities_output!r} read as {plan.output_kind}" + (
        "" if plan.reading.distribution else " (independent scores, not a distribution)")
    classes = (f"class names {', '.join(plan.labels[:6])}" + (f", … ({len(plan.labels)} in all)"
                                                             if len(plan.labels) > 6 else "")
               if plan.labels else f"class names from the model's output {plan.labels_output!r}")
    return ProfilePreview(answered, plan.preparation, output, classes, plan.profile_assumed)
