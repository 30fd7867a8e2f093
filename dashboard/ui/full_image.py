"""A stored run's images at full size, after the run: under the mistakes gallery, a confusion cell's list and the
changed images of a comparison, a picker opens one of the images shown as tiles, read from the image store (the
images the run kept, or its dataset version's: client.store.Datasets.run_image).

Only a visitor who may see the run's images gets an opener: an upload's are its browser's (and an operator's,
dashboard.runs.ownership), a dataset's are everyone's. A missing or damaged image is said, naming it. File names are
plain text (dashboard.plain).
"""
from __future__ import annotations

import io
import logging
from typing import Callable, Sequence

import pandas as pd
import streamlit as st
from PIL import Image

from client.store import RunInfo, StoreError
from dashboard.plain import escape_markdown, visible
from dashboard.runs.ownership import Actor
from dashboard.runs.results import short_names
from dashboard.ui import state

__all__ = ["ImageOpener", "full_image_picker", "image_opener"]

ImageOpener = Callable[[str], bytes]     # source -> the full image's bytes (StoreError naming it when it cannot)
LOG = logging.getLogger("servescope.dashboard")
FULL_WIDTH = 720                         # the most a full image is drawn across (it is never enlarged)


def image_opener(run: RunInfo, rows: pd.DataFrame, visitor: Actor) -> ImageOpener | None:
    """source -> full image for one stored run (rows indexed by position, as stored); None when the run has none
    to open (no images kept, no dataset) or this visitor may not see them."""
    if run.dataset_id is None and (not run.keep_images or not visitor.may_see_private(run)):
        return None
    try:
        data = state.datasets()
    except StoreError as exc:
        LOG.error("the image store cannot be opened: %s", exc)
        return None
    positions = {str(source): int(position) for position, source in rows["source"].items()}

    def open_image(source: str) -> bytes:
        if source not in positions:
            raise StoreError(f"{source}: no such image in run {run.id}")
        return data.run_image(run.id, positions[source])
    return open_image


def full_image_picker(sources: Sequence[str], opener: ImageOpener | None, *, key: str,
                      label: str = "Open one at full size") -> None:
    """A picker of `sources` (the images just shown as tiles) that draws the chosen one at full size (never wider
    than FULL_WIDTH, never enlarged), with its full name; nothing without an opener."""
    if opener is None or not len(sources):
        return
    listed = list(dict.fromkeys(str(source) for source in sources))
    names = dict(zip(listed, short_names(listed)))
    chosen = st.selectbox(label, listed, index=None, key=key, placeholder="choose an image",
                          format_func=lambda source: visible(names[source]))
    if chosen is None:
        return
    try:
        image = opener(chosen)
    except StoreError as exc:
        st.warning(escape_markdown(f"The full image cannot be shown: {exc}"), icon=":material/broken_image:")
        return
    with st.container(border=True):
        try:
            st.image(image, width="content" if _width(image) <= FULL_WIDTH else FULL_WIDTH)
        except Exception as exc:  # noqa: BLE001 - bytes the browser cannot draw (the server classified them anyway)
            st.warning(escape_markdown(f"{chosen}: the image cannot be drawn ({type(exc).__name__})"))
        st.text(visible(chosen))


def _width(image: bytes) -> int:
    """The image's width in pixels (0 when unknown), read from its header only."""
    try:
        with Image.open(io.BytesIO(image)) as opened:
            return opened.width
    except Exception:  # noqa: BLE001 - drawn as it comes
        return 0
