"""A stored run's images after the run, as the run views show them: the dataset it ran on (or that it is gone),
whether its upload was kept in the image store, and whether its images can be run again ("Compare these images with
other versions…"), with the reason when they cannot.

An upload's images are its browser's (dashboard.runs.ownership: an operator's too); a dataset's are everyone's.
Dataset names are shown as plain text (dashboard.plain).
"""
from __future__ import annotations

import logging

import streamlit as st

from client.store import RunInfo, StoreError
from dashboard.plain import escape_markdown
from dashboard.runs.ownership import Actor
from dashboard.ui import state

__all__ = ["dataset_text", "kept_count", "render_images_note", "why_not_reusable"]

LOG = logging.getLogger("servescope.dashboard")


def dataset_text(run: RunInfo) -> str | None:
    """"march-audit@2", or "march-audit@2 (deleted)" once the dataset is gone; None for an upload run."""
    if run.dataset_id is None:
        return None
    reference = f"{run.dataset_name}@{run.dataset_version}"
    try:
        gone = state.datasets().find(run.dataset_id) is None
    except StoreError as exc:
        LOG.error("datasets: %s", exc)
        return reference
    return f"{reference} (deleted)" if gone else reference


def kept_count(run: RunInfo) -> int:
    """How many of an upload run's images are in the image store."""
    return len(state.image_store().run_images(run.id))


def render_images_note(run: RunInfo) -> None:
    """One line under a finished run: its dataset, or how its upload's images were kept (and why not)."""
    if run.dataset_id is not None:
        st.caption(escape_markdown(f"Run on dataset {dataset_text(run)}."))
        return
    if not run.keep_images:
        st.caption("This run's images were not kept (only its results and thumbnails).")
        return
    try:
        status = state.run_manager().kept_images(run.id)
        if status is not None:
            (st.warning if status.error else st.caption)(escape_markdown(status.text(), limit=1200))
            return
        kept = kept_count(run)
    except StoreError as exc:
        LOG.error("the image store: %s", exc)
        st.warning(escape_markdown(f"This run's kept images cannot be read: {exc}"), icon=":material/warning:")
        return
    text = f"Images kept in the image store: {kept:,} of {run.total:,}."
    (st.caption if kept == run.total else st.warning)(escape_markdown(text))


def why_not_reusable(run: RunInfo, visitor: Actor) -> str | None:
    """None when this visitor can run the run's images again (held here, kept, or its dataset's); else why not."""
    if run.dataset_id is None and not visitor.may_see_private(run):
        return "its images belong to the browser that started it; upload them to compare them"
    manager = state.run_manager()
    try:
        manager.uploads.reusable(run.id)
        return None
    except LookupError:
        pass
    try:
        if run.dataset_id is not None:
            if state.datasets().find(run.dataset_id) is None:
                return f"its dataset '{run.dataset_name}' was deleted, and its images with it"
            return None
        if not run.keep_images:
            return "this run did not keep its images (\"Don't keep images\" was ticked, or no image store was open)"
        status = manager.kept_images(run.id)
        if status is not None and not status.done:
            return "its images are still being kept in the image store; open the run again in a moment"
        if kept_count(run) == 0:
            return "none of its images could be kept in the image store" + (f" ({status.error})" if status and
                                                                             status.error else "")
    except StoreError as exc:
        LOG.error("the image store: %s", exc)
        return f"the image store cannot be read: {exc}"
    return None
