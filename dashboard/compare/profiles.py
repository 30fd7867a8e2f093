"""Compare and the model profiles its sides used (client.store.records.RunProfile): the warnings they deserve (a side
whose preparation was assumed; sides prepared or read differently), their rows beside the signatures, and the
report's stamp. Pure (no streamlit)."""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from client.store.records import RunProfile
from dashboard.runs.results import assumed_note
from dashboard.server.profiles import describe_profile, short_digest

__all__ = ["profile_rows", "profile_stamp", "profile_warnings", "with_profiles"]

ABSENT = "—"


def profile_warnings(sides: Mapping[str, tuple[str, str | None, RunProfile | None]]) -> list[str]:
    """`sides`: "A"/"B" -> (label, model, profile). A side of a pixel model with no profile (its preparation was
    assumed), and two sides with different profiles (a difference may come from the preparation, not the
    model)."""
    found = []
    for name, (label, model, profile) in sides.items():
        if note := assumed_note(model or "the model", profile):
            found.append(f"{name} ({label}): {note}.")
    digests = {name: profile.digest for name, (_, _, profile) in sides.items() if profile is not None}
    if len(set(digests.values())) > 1:
        shown = "; ".join(f"{name} {short_digest(digest)}" for name, digest in digests.items())
        found.append(f"A and B used different model profiles ({shown}): a difference between them may come from how "
                     "the images were prepared or the outputs read, not from the model.")
    return found


def profile_rows(a: RunProfile | None, b: RunProfile | None) -> list[tuple[str, str, str, str]]:
    """(part, name, A, B) rows for the signatures table: each side's profile digest, origin and preparation."""
    if a is None and b is None:
        return []

    def value(profile: RunProfile | None, field: str) -> str:
        if profile is None:
            return ABSENT
        return {"digest": short_digest(profile.digest), "from": profile.origin or ABSENT,
                "preparation": ("assumed: " if profile.assumed else "") + (profile.preparation or ABSENT)}[field]
    return [("profile", field, value(a, field), value(b, field)) for field in ("digest", "from", "preparation")]


def with_profiles(signatures: pd.DataFrame | None, a: RunProfile | None,
                  b: RunProfile | None) -> pd.DataFrame | None:
    """The signatures table (part, name, A, B, differs; None when not fetched) with the profiles' rows after it."""
    rows = profile_rows(a, b)
    if not rows:
        return signatures
    extra = pd.DataFrame(rows, columns=["part", "name", "A", "B"]).assign(differs=lambda f: f["A"] != f["B"])
    return extra if signatures is None else pd.concat([signatures, extra], ignore_index=True)


def profile_stamp(profile: RunProfile | None) -> str:
    """The report's stamp of one side's profile: its full digest and what it is."""
    if profile is None:
        return "profile not recorded"
    described = "the default, assumed" if profile.assumed else describe_profile(profile.data)
    return f"profile {profile.digest} ({profile.origin or 'origin not recorded'}: {described})"
