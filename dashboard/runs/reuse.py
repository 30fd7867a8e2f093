"""Which stored run can stand for a comparison's baseline instead of classifying the same images again. Pure (no
streamlit, no store access).

A stored run stands for a target on the same images (the same dataset version, or the run the images came from)
when it ran on the same server and model, asked for the same target (`label:stable`, `version:2`, `latest`),
finished complete with a row for every image, and the version that answered it is the one the target names now:
a label that moved since, or a newer latest version, is run again.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from client.store import RunInfo
from dashboard.targets import Target

__all__ = ["reusable_run", "version_now"]


def version_now(target: Target, labels: Mapping[str, int], available: Sequence[int]) -> int | None:
    """The version `target` names on the server now (None when unknown: no reuse)."""
    if target.label is not None:
        return labels.get(target.label)
    if target.version is not None:
        return target.version if target.version in available else None
    return max(available) if available else None


def reusable_run(candidates: Iterable[RunInfo], *, url: str, model: str, target: Target,
                 answered_now: int | None, total: int) -> RunInfo | None:
    """The newest of `candidates` (runs on the same images, newest first) that can stand for `target` now."""
    if answered_now is None:
        return None
    wanted = target.text
    for run in candidates:
        if (run.url == url and run.model == model and run.target == wanted and run.status == "complete"
                and run.done == run.total == total and run.version == answered_now):
            return run
    return None
