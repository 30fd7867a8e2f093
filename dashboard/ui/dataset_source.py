"""Datasets where Classify and Compare start a run: a dataset version as the run's images (NAME@VERSION, picked),
"don't keep images" for an upload, and saving an upload as a named dataset with its ground truth.

Dataset names are the analyst's text: they reach the page through widget options, st.text, or
dashboard.plain.escape_markdown, never as Markdown or a path. An image store or run store that fails says so in a
sentence without a path or URL (the log has the details).
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import streamlit as st

from client.sources import Item
from client.store import DatasetError, DatasetItem, DatasetNotFoundError, DatasetVersion, StoreError
from dashboard.plain import bullet_list, escape_markdown, visible
from dashboard.ui import access, state

__all__ = ["DATASET_SOURCE", "dataset_items", "describe_version", "keep_images_box", "pick_dataset",
           "save_as_dataset", "version_of_run"]

LOG = logging.getLogger("servescope.dashboard")
DATASET_SOURCE = "A dataset"
FAILED_SHOWN = 10


def _failed(what: str, exc: StoreError) -> None:
    LOG.error("%s: %s", what, exc)
    st.error(escape_markdown(f"{what}: {exc}"), icon=":material/error:")


def keep_images_box(key_prefix: str) -> bool:
    """"Don't keep images" for an upload run; True (keep them) unless ticked, False when no image store opens."""
    try:
        state.run_store()
    except StoreError:
        return False   # the page says the run store cannot be opened; without it no image is kept
    try:
        state.image_store()
    except StoreError as exc:
        LOG.error("the image store cannot be opened: %s", exc)
        st.caption(escape_markdown(f"This run's images will not be kept: {exc}"))
        return False
    dont = st.checkbox("Don't keep images", key=f"{key_prefix}_dont_keep_images",
                       help="Uploaded images are kept in the image store (each photo once), so the run can be "
                            "compared with other versions and its images opened at full size later. Tick to keep "
                            "only the results and the ≤ 96 px thumbnails.")
    return not dont


def describe_version(version: DatasetVersion) -> str:
    """"march-audit@2: 1,350 image(s), truth for 1,300" (plain text: escape it for Markdown)."""
    return (f"{version.reference}: {version.images:,} image(s), truth for {version.truth_known:,}"
            + (f" ({version.note})" if version.note else ""))


def pick_dataset(key_prefix: str) -> DatasetVersion | None:
    """A dataset and one of its versions (the newest by default), or None after saying why there is none."""
    try:
        data = state.datasets()
        names = [summary.name for summary in data.summaries()]
    except StoreError as exc:
        _failed("The datasets cannot be read", exc)
        return None
    if not names:
        st.info("No datasets yet: upload images and save them as a dataset (below the upload), or use "
                "`python -m client dataset create`.", icon=":material/dataset:")
        return None
    left, right = st.columns([3, 1])
    name = left.selectbox("Dataset", names, key=f"{key_prefix}_dataset", format_func=visible)
    try:
        versions = data.versions(name)
    except StoreError as exc:   # deleted since the list was read
        _failed("The dataset cannot be read", exc)
        return None
    numbers = [v.version for v in reversed(versions)]
    chosen = right.selectbox("Version", numbers, key=f"{key_prefix}_dataset_version_{len(numbers)}")
    version = next(v for v in versions if v.version == chosen)
    st.caption(escape_markdown(describe_version(version)))
    return version


@st.cache_resource(show_spinner=False, max_entries=8)
def _items_at(database: str, dataset_id: str, version: int, _version: DatasetVersion) -> tuple[DatasetItem, ...]:
    # A version never changes once made: its items are read once per process (keyed by the store, id and number).
    return tuple(state.datasets().items(_version))


def dataset_items(version: DatasetVersion) -> tuple[list[Item], dict[str, str]]:
    """The version's (name, loader) items in position order (a loader raises MissingImageError naming its image
    when the image store lost it) and its truth as found {source: label}. Raises StoreError."""
    items = _items_at(state.run_store().url, version.dataset_id, version.version, version)
    images = state.image_store()
    return ([(item.source, images.loader(item.sha256, item.source)) for item in items],
            {item.source: item.truth for item in items if item.truth is not None})


def version_of_run(run) -> DatasetVersion | None:
    """The dataset version a stored run used, or None (an upload, or the dataset was deleted). Raises StoreError."""
    if run.dataset_id is None:
        return None
    data = state.datasets()
    newest = data.find(run.dataset_id)
    if newest is None:
        return None
    return next((v for v in data.versions(newest.name) if v.version == run.dataset_version), None)


def _existing(name: str) -> DatasetVersion | None:
    try:
        return state.datasets().versions(name)[-1]
    except DatasetNotFoundError:
        return None


def save_as_dataset(items: Sequence[Item], truth: Mapping[str, str] | None, *, key_prefix: str) -> None:
    """An expander saving `items` as a named dataset with `truth` ({source: class}, as the run would use it): a new
    name makes version 1, created by this browser (which may then delete it); a name that exists is refused unless
    the analyst asks for its next version (which then holds exactly these images and keeps the dataset's
    creator)."""
    saved_key = f"{key_prefix}_dataset_saved"
    saved = st.session_state.get(saved_key)
    with st.expander("Save these images as a dataset", expanded=saved is not None):
        if saved is not None:
            _saved(*saved)
        name = st.text_input("Dataset name", key=f"{key_prefix}_dataset_name", max_chars=200,
                             placeholder="e.g. march-audit",
                             help="A dataset keeps the images and their ground truth in the image store, so any "
                                  "version can be run on them again without a new upload (the Datasets page lists "
                                  "them). The name is plain text.")
        new_version = False
        existing = None
        if name.strip():
            try:
                existing = _existing(name)
            except (StoreError, DatasetError) as exc:
                _failed("The datasets cannot be read", exc)
                return
        if existing is not None:
            st.warning(escape_markdown(f"A dataset named '{existing.name}' exists (version {existing.version}, "
                                       f"{existing.images:,} image(s))."), icon=":material/warning:")
            new_version = st.checkbox(f"Make version {existing.version + 1} of it, holding exactly these images",
                                      key=f"{key_prefix}_dataset_new_version_{existing.version}")
        known = len(truth or {})
        if not st.button("Save as dataset", key=f"{key_prefix}_dataset_save", icon=":material/save:",
                         disabled=not name.strip() or (existing is not None and not new_version),
                         help=f"{len(items):,} image(s), {known:,} with ground truth"):
            return
        try:
            with st.spinner("Storing the images…"):
                build = state.datasets().create(name, items, truth=dict(truth) if truth else "none",
                                                new_version=new_version, created_by=access.actor().browser)
        except StoreError as exc:   # a taken or bad name, nothing readable, a full or unwritable image store
            _failed("The dataset was not saved", exc)
            return
        st.session_state[saved_key] = (build.text() + ".", build.failed)
        st.rerun()


def _saved(text: str, failed: Sequence[str]) -> None:
    st.success(escape_markdown(text), icon=":material/dataset:")
    if failed:
        more = len(failed) - FAILED_SHOWN
        st.caption(f"{len(failed)} file(s) not taken:")
        st.markdown(bullet_list([*failed[:FAILED_SHOWN], *([f"and {more} more"] if more > 0 else [])]))
