"""A stored run's images after the run, as the run views show them: the dataset it ran on (or that it is gone),
whether its upload was kept in the image store, whether its images can be run again ("Compare these images with
other versions…"), with the reason when they cannot, and its corrections offered back to its dataset as the
dataset's next version ("apply 3 corrections to dataset 'march-audit' → version 4").

An upload's images are its browser's (dashboard.runs.ownership: an operator's too); a dataset's are everyone's.
Dataset names are shown as plain text (dashboard.plain).
"""
from __future__ import annotations

import logging

import streamlit as st

from client.store import DatasetNotFoundError, RunInfo, StoreError
from dashboard.plain import escape_markdown
from dashboard.runs.ownership import Actor
from dashboard.ui import state

__all__ = ["corrections_offer", "dataset_text", "kept_count", "render_images_note", "why_not_reusable"]

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


def corrections_offer(run: RunInfo, key_prefix: str) -> None:
    """For a run on a dataset: its corrections offered as the dataset's next version (one press applies them),
    what applying did, or why there is nothing to apply. Datasets are shared: any visitor may apply."""
    if run.dataset_id is None:
        return
    done_key = f"{key_prefix}_corrections_applied"
    if (done := st.session_state.get(done_key)) is not None and done[0] == run.id:
        st.success(escape_markdown(done[1][:1].upper() + done[1][1:] + "."), icon=":material/dataset:")
    try:
        plan = state.datasets().correction_plan(run.id)
    except DatasetNotFoundError:
        st.caption(escape_markdown(f"Dataset '{run.dataset_name}' was deleted: this run's corrections have no "
                                   "dataset to go to."))
        return
    except StoreError as exc:
        LOG.error("datasets: %s", exc)
        st.warning(escape_markdown(f"This run's corrections cannot be offered to its dataset: {exc}"))
        return
    if plan is None or not (plan.corrections or plan.unchanged or plan.not_found):
        return
    if plan.not_found:
        st.caption(escape_markdown(f"{len(plan.not_found)} corrected image(s) are no longer in dataset "
                                   f"'{plan.name}' version {plan.latest_version}: "
                                   + ", ".join(plan.not_found[:5]) + (" …" if len(plan.not_found) > 5 else "")))
    if not plan.corrections:
        st.caption(escape_markdown(plan.text() + "."))
        return
    text = plan.text()
    if st.button(escape_markdown(text[:1].upper() + text[1:]), key=f"{key_prefix}_apply_corrections",
                 icon=":material/playlist_add_check:",
                 help="A new version of the dataset with these truths; earlier versions, and the runs made on them, "
                      "stay as they are"):
        try:
            applied = state.datasets().apply_corrections(run.id)
        except StoreError as exc:
            st.error(escape_markdown(f"The corrections were not applied: {exc}"), icon=":material/error:")
            return
        st.session_state[done_key] = (run.id, applied.text())
        st.rerun()
