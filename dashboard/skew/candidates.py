"""The preparations the skew finder tries: every preset, a small grid, and the session's own profile.

A candidate is a whole ModelProfile. What the finder searches is how pixels are prepared where models most often
differ: the value range (`scale`, `mean`, `std`), the channel order and the resize mode. Everything else comes
from the base profile (the session's, or none) unchanged: class names, signature, output, and the input's `size`,
`layout`, `resample` and `crop_fraction` (KEPT_INPUT), which the finder does not search. Pure: no streamlit.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from client.profile import DEFAULT_PROFILE, PRESETS, ModelProfile

__all__ = ["Candidate", "GRID_CHANNELS", "GRID_RESIZES", "GRID_SCALES", "KEPT_INPUT", "candidates", "kept_part"]

KEPT_INPUT = ("size", "layout", "resample", "crop_fraction")
GRID_SCALES = ((-1, 1), (0, 1), (0, 255))
GRID_RESIZES = ("stretch", "center_crop")
GRID_CHANNELS = ("RGB", "BGR")

PRESET, GRID, CURRENT = "preset", "grid", "current"


@dataclass(frozen=True)
class Candidate:
    """One preparation to try. `origin`: "preset" (a named convention), "grid" (a scale × resize × channel
    order combination) or "current" (the session's own profile); `current`: the session classifies this way now
    (its profile, or the default preset it assumes)."""

    name: str
    origin: str
    profile: ModelProfile
    current: bool = False

    @property
    def named(self) -> bool:
        """A documented convention or the analyst's own choice, rather than a grid combination."""
        return self.origin in (PRESET, CURRENT)


def kept_part(base: ModelProfile | None) -> dict[str, Any]:
    """What every candidate takes from the base profile: everything but the preset and the searched input keys
    (class names inlined, so a candidate stands alone)."""
    if base is None:
        return {}
    given = base.to_dict(inline_class_names=True)
    given.pop("preset", None)
    kept_input = {key: value for key, value in given.pop("input", {}).items() if key in KEPT_INPUT}
    return {**given, "input": kept_input} if kept_input else given


def _with_input(kept: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {**kept, "input": {**kept.get("input", {}), **keys}} if keys or "input" in kept else dict(kept)


def _scale_text(scale: tuple[int, int]) -> str:
    return f"[{scale[0]}, {scale[1]}]"


def candidates(base: ModelProfile | None = None, *, grid: bool = True) -> list[Candidate]:
    """The session's profile first (when it says how to prepare pixels), then each preset, then the grid
    (GRID_SCALES × GRID_RESIZES × GRID_CHANNELS, on no preset's mean/std). Without a base profile, or with one
    that says nothing of the preparation, the default preset (pets) is the current one."""
    kept = kept_part(base)
    found: list[Candidate] = []
    says = base is not None and base.says_preparation
    if says:
        found.append(Candidate("current profile", CURRENT, base, current=True))
    default = DEFAULT_PROFILE.preset_name
    for preset in PRESETS:
        profile = ModelProfile.from_dict({**_with_input(kept), "preset": preset})
        found.append(Candidate(preset, PRESET, profile, current=not says and preset == default))
    if grid:
        for scale, resize, channels in itertools.product(GRID_SCALES, GRID_RESIZES, GRID_CHANNELS):
            profile = ModelProfile.from_dict({**_with_input(kept, scale=list(scale), resize=resize,
                                                            channels=channels), "preset": "raw"})
            found.append(Candidate(f"{_scale_text(scale)} · {resize} · {channels}", GRID, profile))
    return found
