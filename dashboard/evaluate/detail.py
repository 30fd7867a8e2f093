"""What the image detail view shows and how its queue moves: one image of a run (or of a comparison's runs, A and
B), the queue of images it was opened from, and the keys that drive it. Pure (no streamlit); the view is
dashboard.evaluate.detail_view, which Classify and Compare both open.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

__all__ = ["SideView", "DetailImage", "Queue", "class_for_key", "thumbnail_bytes", "truth_line"]


@dataclass(frozen=True)
class SideView:
    """One model's answer for the image, and where to ask it again (for the occlusion map)."""
    name: str                                   # "" for a classify run; "A: label stable (v1)" in a comparison
    url: str
    model: str
    version: int | None                         # the version that answered (None: ask `label`, or the latest)
    label: str | None = None
    probabilities: Mapping[str, float] | None = None   # None when this side failed on the image
    top5: tuple[tuple[str, float], ...] = ()
    error: str | None = None

    @property
    def top_class(self) -> str | None:
        if not self.probabilities:
            return None
        return max(self.probabilities, key=lambda name: self.probabilities[name])

    def map_key(self, source: str) -> tuple:
        """The occlusion map's cache key: the same image on the same served version is the same map."""
        return (self.url, self.model, self.version, self.label, source)


@dataclass(frozen=True)
class DetailImage:
    source: str                                 # the stored name (the row's key for corrections)
    name: str                                   # its short name
    thumbnail: str | None                       # data: URI of the stored <= 96 px JPEG
    truth: str | None                           # the truth in effect: the correction, else the detected truth
    corrected: bool = False
    detected: str | None = None                 # the truth found at upload (folder, file name or truth file)
    sides: tuple[SideView, ...] = ()


def truth_line(image: DetailImage) -> str:
    """"True class: dog (detected at upload)", "True class: cat (corrected; detected: dog)", or that it has none."""
    if image.truth is None:
        return "No ground truth for this image: choose its class below."
    if not image.corrected:
        return f"True class: {image.truth} (detected at upload)"
    was = f"; detected: {image.detected}" if image.detected is not None else ""
    return f"True class: {image.truth} (corrected{was})"


@dataclass(frozen=True)
class Queue:
    """The images the view was opened from (a table's rows, a cell's images, the review queue…) and where it is."""
    name: str
    sources: tuple[str, ...]
    index: int = 0
    context: Mapping[str, object] = field(default_factory=dict)   # what the page needs to find its images again

    @property
    def source(self) -> str:
        return self.sources[self.index]

    @property
    def position_text(self) -> str:
        """"3 of 12 in the review queue"."""
        return f"{self.index + 1} of {len(self.sources)} in {self.name}"

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.sources) - 1

    def moved(self, step: int) -> "Queue":
        """The queue one image on (step 1) or back (-1), staying within it."""
        return replace(self, index=min(max(self.index + step, 0), len(self.sources) - 1))


def class_for_key(key: str | None, class_names: Sequence[str]) -> str | None:
    """The class a digit key picks ("1" is the first class), or None for any other key or a digit past the last."""
    if key is None or len(key) != 1 or not key.isdigit() or key == "0":
        return None
    index = int(key) - 1
    return class_names[index] if index < len(class_names) else None


def thumbnail_bytes(uri: str | None) -> bytes | None:
    """The bytes of a base64 data: URI (the stored thumbnail), or None."""
    if not uri or not uri.startswith("data:") or ";base64," not in uri:
        return None
    try:
        return base64.b64decode(uri.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None
